using Deflake.Contract;
using Microsoft.Data.Sqlite;

namespace Deflake.Sqlite.Tests;

/// <summary>Where file clones live (SqliteEngineOptions.CloneDirectory): memory when it can, else disk, and why.</summary>
public sealed class SqliteCloneDirectoryTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "deflake-sqlite-clonedir-" + Guid.NewGuid().ToString("N"));

    private static CancellationToken Token => TestContext.Current.CancellationToken;

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

    [Fact]
    public async Task Under_auto_file_clones_live_in_dev_shm_and_connections_the_app_opens_itself_commit_there()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() && Directory.Exists("/dev/shm"), "needs Linux's /dev/shm");
        var logs = new ListLoggerFactory();
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = _directory, CloneDirectory = "auto" });
        string memoryFolder;
        await using (var pool = await CreatePoolAsync(engine, logs))
        {
            memoryFolder = Path.GetDirectoryName(Path.GetDirectoryName(engine.CloneDirectory))!;
            Assert.StartsWith("/dev/shm/deflake-", engine.CloneDirectory, StringComparison.Ordinal);
            Assert.Equal(SqliteCloneFolders.FolderName(engine.RootDirectory), Path.GetFileName(memoryFolder));
            Assert.Equal(engine.RootDirectory, SqliteCloneFolders.ReadRootNote(memoryFolder));
            Assert.Equal("in memory", engine.CloneDirectoryReason);
            Assert.Contains(logs.Lines, l => l.StartsWith("Information: Deflake makes SQLite clones in memory: /dev/shm/", StringComparison.Ordinal));

            await using var database = await pool.RentAsync(Token);
            var file = new SqliteConnectionStringBuilder(database.ConnectionString).DataSource;
            Assert.Equal(engine.CloneDirectory, Path.GetDirectoryName(file));
            Assert.True(File.Exists(file));

            // The app's own connection, from the connection string alone.
            await using (var connection = new SqliteConnection(database.ConnectionString))
            {
                await connection.OpenAsync(Token);
                await ExecuteAsync(connection, "INSERT INTO t (id) VALUES (1); INSERT INTO t (id) VALUES (2); INSERT INTO t (id) VALUES (3);", Token);
            }

            await using (var again = new SqliteConnection(database.ConnectionString))
            {
                await again.OpenAsync(Token);
                await using var count = again.CreateCommand();
                count.CommandText = "SELECT COUNT(*) FROM t";
                Assert.Equal(3L, await count.ExecuteScalarAsync(Token));
            }

            // Templates stay in the cache folder.
            Assert.StartsWith(_directory, pool.Template.Name, StringComparison.Ordinal);
        }

        Assert.False(Directory.Exists(memoryFolder), $"{memoryFolder} should go with the last pool of its directory");
    }

    [Fact]
    public async Task A_file_clones_first_connection_keeps_its_journal_in_memory_without_syncing_and_still_rolls_back()
    {
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = _directory, CloneDirectory = "disk" });
        await using var pool = await CreatePoolAsync(engine, new ListLoggerFactory());
        await using var database = await pool.RentAsync(Token);
        var file = new SqliteConnectionStringBuilder(database.ConnectionString).DataSource;

        // The app's own connection, from the connection string alone, gets the handle Deflake opened ahead.
        await using var connection = new SqliteConnection(database.ConnectionString);
        await connection.OpenAsync(Token);
        await using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA journal_mode";
            Assert.Equal("memory", await pragma.ExecuteScalarAsync(Token));
            pragma.CommandText = "PRAGMA synchronous";
            Assert.Equal(0L, await pragma.ExecuteScalarAsync(Token));
        }

        await ExecuteAsync(connection, "INSERT INTO t (id) VALUES (1)", Token);
        await using (var transaction = connection.BeginTransaction())
        {
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO t (id) VALUES (2)";
            await insert.ExecuteNonQueryAsync(Token);
            Assert.False(File.Exists(file + "-journal"), "the journal should be in memory");
            transaction.Rollback();
        }

        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT group_concat(id) FROM t";
        Assert.Equal("1", await count.ExecuteScalarAsync(Token));
    }

    [Fact]
    public async Task Under_auto_without_a_memory_file_system_clones_go_to_disk_and_the_log_says_why()
    {
        var logs = new ListLoggerFactory();
        var options = new SqliteEngineOptions { Directory = _directory, CloneDirectory = "auto", MemoryFileSystem = Path.Combine(_directory, "no-shm-here") };
        var engine = new SqliteEngine(options);
        await using var pool = await CreatePoolAsync(engine, logs);
        await using var database = await pool.RentAsync(Token);

        Assert.Equal(Path.Combine(_directory, "clones"), Path.GetDirectoryName(engine.CloneDirectory));
        Assert.StartsWith(engine.CloneDirectory, new SqliteConnectionStringBuilder(database.ConnectionString).DataSource, StringComparison.Ordinal);
        Assert.Equal($"on disk: there is no {options.MemoryFileSystem} (in-memory file system) here (set DEFLAKE_SQLITE_CLONE_DIR to choose)", engine.CloneDirectoryReason);
        Assert.Contains(logs.Lines, l => l.Contains("Deflake makes SQLite clones on disk: there is no", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Under_auto_a_memory_file_system_with_too_little_room_sends_clones_to_disk()
    {
        var shm = Directory.CreateDirectory(Path.Combine(_directory, "small-shm")).FullName;
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = _directory, CloneDirectory = "auto", MemoryFileSystem = shm, MemoryMinimumFreeBytes = long.MaxValue });
        await using var pool = await CreatePoolAsync(engine);

        Assert.Equal(Path.Combine(_directory, "clones"), Path.GetDirectoryName(engine.CloneDirectory));
        Assert.Matches($"^on disk: {shm} has [0-9]+ MB free, under the [0-9]+ MB it needs", engine.CloneDirectoryReason);
        Assert.Empty(Directory.GetFileSystemEntries(shm));
    }

    [Fact]
    public async Task Memory_without_a_memory_file_system_is_a_one_line_error_naming_the_setting()
    {
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = _directory, CloneDirectory = "memory", MemoryFileSystem = Path.Combine(_directory, "no-shm-here") });

        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() => CreatePoolAsync(engine));

        Assert.Equal("SqliteEngineOptions.CloneDirectory", error.Setting);
        Assert.Contains("asks for clones in memory, but there is no", error.Message, StringComparison.Ordinal);
        Assert.Contains("set it to auto (falls back to disk) or disk", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task A_chosen_folder_holds_a_clones_folder_named_by_the_engine_directory()
    {
        var chosen = Path.Combine(_directory, "fast-disk");
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = Path.Combine(_directory, "cache"), CloneDirectory = chosen });
        await using (var pool = await CreatePoolAsync(engine))
        {
            await using var database = await pool.RentAsync(Token);

            var expected = Path.Combine(chosen, SqliteCloneFolders.FolderName(engine.RootDirectory), "clones");
            Assert.Equal(expected, Path.GetDirectoryName(engine.CloneDirectory));
            Assert.True(File.Exists(new SqliteConnectionStringBuilder(database.ConnectionString).DataSource));
            Assert.Equal($"in {chosen} (SqliteEngineOptions.CloneDirectory)", engine.CloneDirectoryReason);
        }

        Assert.Empty(Directory.GetFileSystemEntries(chosen));
    }

    [Fact]
    public async Task A_chosen_folder_that_cannot_be_made_is_a_one_line_error_naming_the_setting()
    {
        Directory.CreateDirectory(_directory);
        var file = Path.Combine(_directory, "a-file");
        await File.WriteAllTextAsync(file, "not a folder", Token);
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = Path.Combine(_directory, "cache"), CloneDirectory = Path.Combine(file, "clones") });

        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() => CreatePoolAsync(engine));

        Assert.Equal("SqliteEngineOptions.CloneDirectory", error.Setting);
        Assert.Contains($"cannot create or write the folder '{Path.Combine(file, "clones")}' ('{file}' is a file, not a folder)", error.Message, StringComparison.Ordinal);
        Assert.Contains("set it to a writable local folder, or to auto", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Disk_keeps_clones_in_the_engine_directory()
    {
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = _directory, CloneDirectory = "disk" });
        await using var pool = await CreatePoolAsync(engine);
        await using var database = await pool.RentAsync(Token);

        Assert.Equal(Path.Combine(_directory, "clones"), Path.GetDirectoryName(engine.CloneDirectory));
        Assert.Equal("on disk (SqliteEngineOptions.CloneDirectory=disk)", engine.CloneDirectoryReason);
        Assert.True(File.Exists(new SqliteConnectionStringBuilder(database.ConnectionString).DataSource));
    }

    [Theory]
    [InlineData("   ", "is blank")]
    [InlineData("relative/clones", "'relative/clones' is neither a keyword nor an absolute folder")]
    public void A_clone_directory_that_is_neither_a_keyword_nor_an_absolute_folder_is_refused(string value, string expected)
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => new SqliteEngine(new SqliteEngineOptions { CloneDirectory = value }));

        Assert.Equal("SqliteEngineOptions.CloneDirectory", error.Setting);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("use auto, memory, disk, or an absolute folder", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    private static Task<TestDatabasePool> CreatePoolAsync(SqliteEngine engine, ListLoggerFactory? logs = null) =>
        TestDatabasePool.CreateAsync(engine, new TestDatabaseOptions
        {
            Schema = SchemaSource.FromDelegate("clone-dir", "1", (connection, ct) => ExecuteAsync(connection, "CREATE TABLE t (id INTEGER PRIMARY KEY)", ct)),
            PoolSize = 1,
            Chaos = ChaosModes.None,
            LoggerFactory = logs,
        }, TestContext.Current.CancellationToken);

    private static async Task ExecuteAsync(System.Data.Common.DbConnection connection, string sql, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
