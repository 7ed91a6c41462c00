namespace Deflake.Sqlite.Tests;

public sealed class SqliteBadInputTests
{
    [Fact]
    public void A_missing_migrations_directory_is_a_one_line_error_naming_the_setting()
    {
        var missing = Path.Combine(Path.GetTempPath(), "deflake-missing-" + Guid.NewGuid().ToString("N"));

        var error = Assert.Throws<DeflakeConfigurationException>(() => SchemaSource.FromSqlDirectory(missing));

        Assert.Equal("SchemaSource.FromSqlDirectory", error.Setting);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void A_migrations_directory_without_sql_files_is_refused()
    {
        var empty = Directory.CreateTempSubdirectory("deflake-empty-").FullName;
        try
        {
            var error = Assert.Throws<DeflakeConfigurationException>(() => SchemaSource.FromSqlDirectory(empty));
            Assert.Contains("no *.sql file", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    [Fact]
    public async Task A_pool_without_a_schema_is_refused_before_touching_the_engine()
    {
        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
            TestDatabasePool.CreateAsync(new SqliteEngine(), new TestDatabaseOptions(), TestContext.Current.CancellationToken));

        Assert.Equal("TestDatabaseOptions.Schema", error.Setting);
    }

    [Fact]
    public void An_unknown_clone_mode_is_refused()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => new SqliteEngine(new SqliteEngineOptions { CloneMode = (SqliteCloneMode)42 }));

        Assert.Equal("SqliteEngineOptions.CloneMode", error.Setting);
    }

    [Fact]
    public void A_negative_KeepSupersededTemplates_is_a_one_line_error_naming_the_setting()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => new SqliteEngine(new SqliteEngineOptions { KeepSupersededTemplates = -1 }));

        Assert.Equal("SqliteEngineOptions.KeepSupersededTemplates", error.Setting);
        Assert.Contains("is -1; use 0 or more", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }
}

public sealed class SqliteTemplateCollectionTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "deflake-sqlite-gc-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Templates_unused_for_a_week_are_collected_and_recent_ones_are_kept()
    {
        string stale, fresh;
        await using (var pool = await CreatePoolAsync("stale"))
        {
            stale = pool.Template.Name;
        }

        await using (var pool = await CreatePoolAsync("fresh"))
        {
            fresh = pool.Template.Name;
        }

        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddDays(-8));
        await using var engine = new SqliteEngine(new SqliteEngineOptions { Directory = _directory });
        await engine.StartAsync(new EngineContext(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System, ChaosModes.None, 1), TestContext.Current.CancellationToken);

        Assert.True(await engine.RemoveOrphansAsync(TimeSpan.FromDays(1), TestContext.Current.CancellationToken) >= 1);
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh));
    }

    [Fact]
    public async Task A_template_is_named_by_the_code_that_built_it_too()
    {
        await using var pool = await CreatePoolAsync("code");
        var engine = new SqliteEngine();
        await using var _ = engine;
        var expected = Fingerprint.Compute($"sqlite@{TemplateCodeIdentity.Of(engine)}", pool.ServerVersion,
            await Schema("code").ComputeFingerprintAsync(TestContext.Current.CancellationToken), "none");

        Assert.Equal(expected + ".db", Path.GetFileName(pool.Template.Name));
    }

    private static SchemaSource Schema(string version) => SchemaSource.FromDelegate("gc", version, async (connection, ct) =>
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "CREATE TABLE t (id INTEGER PRIMARY KEY)";
        await command.ExecuteNonQueryAsync(ct);
    });

    private Task<TestDatabasePool> CreatePoolAsync(string version) =>
        TestDatabasePool.CreateAsync(new SqliteEngine(new SqliteEngineOptions { Directory = _directory }),
            new TestDatabaseOptions { Schema = Schema(version), PoolSize = 1, Chaos = ChaosModes.None, Seed = 1 }, TestContext.Current.CancellationToken);
}
