namespace Deflake.Sqlite.Tests;

/// <summary>The env vars are process-wide: these tests run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(FolderVariables), DisableParallelization = true)]
public sealed class FolderVariables;

/// <summary>
/// Every folder setting of the SQLite engine that cannot be used fails with one line naming the setting, the folder
/// that failed and the fix (issue 17). Folders below a regular file fail even for root, whom no permission bit stops.
/// </summary>
[Collection(nameof(FolderVariables))]
public sealed class SqliteFolderSettingTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "deflake-sqlite-folders-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string AFile()
    {
        Directory.CreateDirectory(_directory);
        var file = Path.Combine(_directory, "a-file");
        File.WriteAllText(file, "not a folder");
        return file;
    }

    [Fact]
    public async Task An_unusable_DEFLAKE_CACHE_DIR_names_the_variable_the_folder_and_the_fix()
    {
        var file = AFile();
        var cache = Path.Combine(file, "cache");
        var error = await WithVariableAsync(DeflakeEnvironment.CacheDirectory, cache, () => CreatePoolAsync(new SqliteEngine()));

        Assert.Equal(DeflakeEnvironment.CacheDirectory, error.Setting);
        Assert.StartsWith($"DEFLAKE_CACHE_DIR: cannot create or write the folder '{Path.Combine(cache, "sqlite", "templates")}' ('{file}' is a file, not a folder)", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("; point DEFLAKE_CACHE_DIR at a writable folder.", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".;", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task An_unusable_engine_directory_option_names_the_option()
    {
        var file = AFile();
        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
            CreatePoolAsync(new SqliteEngine(new SqliteEngineOptions { Directory = Path.Combine(file, "cache") })));

        Assert.Equal("SqliteEngineOptions.Directory", error.Setting);
        Assert.Contains($"'{Path.Combine(file, "cache", "templates")}'", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("; point SqliteEngineOptions.Directory at a writable folder.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unusable_DEFLAKE_SQLITE_CLONE_DIR_names_the_variable_and_the_folder()
    {
        var file = AFile();
        var clones = Path.Combine(file, "clones");
        var error = await WithVariableAsync(DeflakeEnvironment.SqliteCloneDirectory, clones,
            () => CreatePoolAsync(new SqliteEngine(new SqliteEngineOptions { Directory = Path.Combine(_directory, "cache") })));

        Assert.Equal(DeflakeEnvironment.SqliteCloneDirectory, error.Setting);
        Assert.Contains($"cannot create or write the folder '{clones}' ('{file}' is a file, not a folder)", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task A_clone_folder_that_cannot_be_made_below_a_good_cache_names_the_clone_folder_not_the_cache()
    {
        // The cache folder is fine; its clones folder is a file: the owner folder below it is what fails.
        var cache = Path.Combine(_directory, "cache");
        Directory.CreateDirectory(cache);
        var clones = Path.Combine(cache, "clones");
        await File.WriteAllTextAsync(clones, "not a folder", TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
            CreatePoolAsync(new SqliteEngine(new SqliteEngineOptions { Directory = cache, CloneDirectory = "disk" })));

        Assert.Equal("SqliteEngineOptions.Directory", error.Setting);
        Assert.Contains($"cannot create or write the folder '{clones}{Path.DirectorySeparatorChar}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"('{clones}' is a file, not a folder)", error.Message, StringComparison.Ordinal);
    }

    private static async Task<DeflakeConfigurationException> WithVariableAsync(string variable, string value, Func<Task> action)
    {
        var before = Environment.GetEnvironmentVariable(variable);
        try
        {
            Environment.SetEnvironmentVariable(variable, value);
            return await Assert.ThrowsAsync<DeflakeConfigurationException>(action);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, before);
        }
    }

    private static async Task CreatePoolAsync(SqliteEngine engine)
    {
        await using var pool = await TestDatabasePool.CreateAsync(engine, new TestDatabaseOptions
        {
            Schema = SchemaSource.FromDelegate("folders", "1", async (connection, ct) =>
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "CREATE TABLE t (id INTEGER PRIMARY KEY)";
                await command.ExecuteNonQueryAsync(ct);
            }),
            PoolSize = 1,
            Chaos = ChaosModes.None,
        }, TestContext.Current.CancellationToken);
    }
}
