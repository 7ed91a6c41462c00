using System.Data.Common;
using System.Globalization;

namespace Deflake.Contract;

/// <summary>
/// The behaviour every engine must have. One sealed subclass per engine runs it against the real database.
/// </summary>
public abstract class EngineContractTests : IAsyncLifetime
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "deflake-contract-" + Guid.NewGuid().ToString("N"));

    /// <summary>A fresh engine (each pool owns and disposes its engine).</summary>
    protected abstract IDatabaseEngine CreateEngine();

    /// <summary>Whether a database exists, checked without going through Deflake.</summary>
    protected abstract Task<bool> ExistsAsync(string name, string connectionString);

    /// <summary>Removes a kept database at the end of a test, without going through Deflake.</summary>
    protected abstract Task RemoveKeptAsync(string name, string connectionString);

    /// <summary>
    /// The column a syntax error at the second comma of <c>name VARCHAR(20),, other INT</c> is reported at: the comma
    /// (PostgreSQL's position, SQLite's error offset); MariaDB quotes the rest after it, so the column after it.
    /// </summary>
    protected virtual int SyntaxErrorColumn => 22;

    protected string Scratch => _scratch;

    public ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_scratch);
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            Directory.Delete(_scratch, recursive: true);
        }
        catch (IOException)
        {
        }

        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    // A schema name per version: a schema name is a template lineage, and templates of one lineage supersede each other
    // (parallel tests, or two copies of a suite, would otherwise drop each other's disposed templates).
    protected static SchemaSource UniqueSchema(string? version = null) => UniqueSchemaVersion(version ?? Guid.NewGuid().ToString("N"));

    private static SchemaSource UniqueSchemaVersion(string version) =>
        SchemaSource.FromDelegate("contract:" + version, version, async (connection, ct) =>
        {
            await ExecuteAsync(connection, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", ct);
            await ExecuteAsync(connection, "INSERT INTO items (id, name) VALUES (1, 'seeded')", ct);
        });

    protected Task<TestDatabasePool> CreatePoolAsync(SchemaSource schema, Action<TestDatabaseOptions>? configure = null)
    {
        var options = new TestDatabaseOptions { Schema = schema, PoolSize = 2, Chaos = ChaosModes.None, Seed = 1 };
        configure?.Invoke(options);
        return TestDatabasePool.CreateAsync(CreateEngine(), options, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Each_clone_starts_from_the_template_and_sees_only_its_own_writes()
    {
        await using var pool = await CreatePoolAsync(UniqueSchema());
        await using var first = await pool.RentAsync(TestContext.Current.CancellationToken);
        await using var second = await pool.RentAsync(TestContext.Current.CancellationToken);
        Assert.NotEqual(first.Name, second.Name);

        await using (var connection = await first.OpenConnectionAsync(TestContext.Current.CancellationToken))
        {
            await ExecuteAsync(connection, "INSERT INTO items (id, name) VALUES (2, 'only in first')", TestContext.Current.CancellationToken);
            Assert.Equal(2, await CountAsync(connection, "items"));
        }

        await using (var connection = await second.OpenConnectionAsync(TestContext.Current.CancellationToken))
        {
            Assert.Equal(1, await CountAsync(connection, "items"));
        }
    }

    [Fact]
    public async Task A_second_pool_with_the_same_schema_reuses_the_template()
    {
        var version = Guid.NewGuid().ToString("N");
        string firstTemplate;
        await using (var pool = await CreatePoolAsync(UniqueSchema(version)))
        {
            Assert.True(pool.Template.WasBuilt);
            firstTemplate = pool.Template.Name;
        }

        await using (var pool = await CreatePoolAsync(UniqueSchema(version)))
        {
            Assert.False(pool.Template.WasBuilt);
            Assert.Equal(firstTemplate, pool.Template.Name);
        }
    }

    [Fact]
    public async Task Changing_a_migration_file_builds_a_new_template()
    {
        var migrations = Path.Combine(Scratch, "migrations");
        Directory.CreateDirectory(migrations);
        var marker = Guid.NewGuid().ToString("N");
        await File.WriteAllTextAsync(Path.Combine(migrations, "001_items.sql"),
            $"CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO items (id, name) VALUES (1, '{marker}');", TestContext.Current.CancellationToken);

        string firstTemplate;
        await using (var pool = await CreatePoolAsync(SchemaSource.FromSqlDirectory(migrations)))
        {
            firstTemplate = pool.Template.Name;
        }

        await File.WriteAllTextAsync(Path.Combine(migrations, "002_more.sql"),
            "INSERT INTO items (id, name) VALUES (2, 'added later');", TestContext.Current.CancellationToken);

        await using (var pool = await CreatePoolAsync(SchemaSource.FromSqlDirectory(migrations)))
        {
            Assert.True(pool.Template.WasBuilt);
            Assert.NotEqual(firstTemplate, pool.Template.Name);
            await using var database = await pool.RentAsync(TestContext.Current.CancellationToken);
            await using var connection = await database.OpenConnectionAsync(TestContext.Current.CancellationToken);
            Assert.Equal(2, await CountAsync(connection, "items"));
        }
    }

    [Fact]
    public async Task A_failed_tests_database_is_kept_when_keeping_is_on_and_dropped_otherwise()
    {
        string keptName, keptConnectionString, droppedName, droppedConnectionString;
        await using (var pool = await CreatePoolAsync(UniqueSchema(), o => o.KeepFailed = true))
        {
            var failed = await pool.RentAsync(TestContext.Current.CancellationToken);
            (keptName, keptConnectionString) = (failed.Name, failed.ConnectionString);
            failed.MarkFailed();
            await failed.DisposeAsync();
            Assert.NotNull(failed.KeptAt);
            Assert.DoesNotContain("password", failed.KeptAt, StringComparison.OrdinalIgnoreCase);

            var passed = await pool.RentAsync(TestContext.Current.CancellationToken);
            (droppedName, droppedConnectionString) = (passed.Name, passed.ConnectionString);
            await passed.DisposeAsync();
            Assert.Null(passed.KeptAt);
        }

        try
        {
            Assert.True(await ExistsAsync(keptName, keptConnectionString), "the failed test's database should outlive the pool");
            Assert.False(await ExistsAsync(droppedName, droppedConnectionString), "a passed test's database should be dropped");
        }
        finally
        {
            await RemoveKeptAsync(keptName, keptConnectionString);
        }
    }

    [Fact]
    public async Task Disposing_the_pool_removes_every_database_it_made()
    {
        var made = new List<(string Name, string ConnectionString)>();
        await using (var pool = await CreatePoolAsync(UniqueSchema()))
        {
            var returned = await pool.RentAsync(TestContext.Current.CancellationToken);
            var stillRented = await pool.RentAsync(TestContext.Current.CancellationToken);
            made.Add((returned.Name, returned.ConnectionString));
            made.Add((stillRented.Name, stillRented.ConnectionString));
            await returned.DisposeAsync();
            Assert.True(await ExistsAsync(stillRented.Name, stillRented.ConnectionString));
        }

        foreach (var (name, connectionString) in made)
        {
            Assert.False(await ExistsAsync(name, connectionString), $"{name} should be gone after the pool is disposed");
        }
    }

    [Fact]
    public async Task A_migration_with_a_syntax_error_names_the_file_and_is_never_half_used()
    {
        var migrations = Path.Combine(Scratch, "broken");
        Directory.CreateDirectory(migrations);
        var marker = Guid.NewGuid().ToString("N");
        await File.WriteAllTextAsync(Path.Combine(migrations, "001_ok.sql"), $"CREATE TABLE ok_{marker} (id INTEGER PRIMARY KEY);", TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(Path.Combine(migrations, "002_broken.sql"), "CREATE TABLE oops (id INTEGER PRIMARY KEY,, );", TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<TemplateBuildException>(() => CreatePoolAsync(SchemaSource.FromSqlDirectory(migrations)));
        Assert.Contains("002_broken.sql", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);

        await File.WriteAllTextAsync(Path.Combine(migrations, "002_broken.sql"), "CREATE TABLE fixed (id INTEGER PRIMARY KEY);", TestContext.Current.CancellationToken);
        await using var pool = await CreatePoolAsync(SchemaSource.FromSqlDirectory(migrations));
        Assert.True(pool.Template.WasBuilt);
    }

    [Fact]
    public async Task A_migration_error_says_file_line_and_column_and_the_databases_message_without_a_password()
    {
        // Issue 17: the file alone sends the reader searching; the database knows the place.
        var migrations = Path.Combine(Scratch, "located");
        Directory.CreateDirectory(migrations);
        var marker = Guid.NewGuid().ToString("N");
        await File.WriteAllTextAsync(Path.Combine(migrations, "001_ok.sql"), $"CREATE TABLE ok_{marker} (id INT PRIMARY KEY);", TestContext.Current.CancellationToken);
        var broken = Path.Combine(migrations, "002_broken.sql");
        await File.WriteAllTextAsync(broken, string.Join('\n',
            "-- the second migration: two tables",
            "CREATE TABLE first_ok (id INT PRIMARY KEY);",
            "CREATE TABLE second_bad (id INT PRIMARY KEY,",
            "    name VARCHAR(20),, other INT);",
            ""), TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<TemplateBuildException>(() => CreatePoolAsync(SchemaSource.FromSqlDirectory(migrations)));

        Assert.Equal(broken, error.File);
        Assert.Equal(4, error.Line);
        Assert.Equal(SyntaxErrorColumn, error.Column);
        Assert.Contains($"{broken}:4:{SyntaxErrorColumn}: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(FirstLine(error.InnerException!.Message), error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain("password", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    private static string FirstLine(string text) => text.Split('\n')[0].TrimEnd('\r');

    [Fact]
    public async Task Eight_parallel_tests_writing_the_same_tables_never_lock_or_bleed_twenty_times_in_a_row()
    {
        // Seed 002: one shared database gave lock errors and data bleed. Each test here has its own clone.
        await using var pool = await CreatePoolAsync(UniqueSchema(), o => o.PoolSize = 8);
        for (var repetition = 0; repetition < 20; repetition++)
        {
            var tests = Enumerable.Range(1, 8).Select(async test =>
            {
                await using var database = await pool.RentAsync(TestContext.Current.CancellationToken);
                await using var connection = await database.OpenConnectionAsync(TestContext.Current.CancellationToken);
                for (var row = 0; row < test; row++)
                {
                    await ExecuteAsync(connection, string.Create(CultureInfo.InvariantCulture, $"INSERT INTO items (id, name) VALUES ({100 + row}, 'test {test}')"), TestContext.Current.CancellationToken);
                    await Task.Yield();
                }

                return (Expected: 1 + test, Actual: await CountAsync(connection, "items"));
            });

            foreach (var (expected, actual) in await Task.WhenAll(tests))
            {
                Assert.Equal(expected, actual);
            }
        }

        // Where the engine recycles, most of these ran on recycled databases: the same ids were inserted again each time.
        Assert.True(!pool.Recycle || pool.Statistics.Recycled > 0, $"nothing was recycled: {pool.Statistics}");
    }

    protected static async Task ExecuteAsync(DbConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    protected static async Task<long> CountAsync(DbConnection connection, string table)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {table}";
        return Convert.ToInt64(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken), CultureInfo.InvariantCulture);
    }
}
