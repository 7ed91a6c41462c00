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
}
