using Npgsql;

namespace Deflake.Postgres.Tests;

/// <summary>Where the throwaway server keeps its data: memory when it can, or where the option asks.</summary>
public sealed class PostgresLocalServerDataTests
{
    private const string Memory = "/dev/shm";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Auto_keeps_the_data_in_a_private_in_memory_folder_and_the_socket_in_the_runtime_directory()
    {
        Assert.SkipUnless(Directory.Exists(Memory) && !OperatingSystem.IsWindows(), "no /dev/shm here");
        await using var scope = new PrivateServer();
        var server = await scope.StartAsync(new PostgresLocalServerOptions { DataDirectory = "auto" });

        Assert.True(server.WasStarted);
        Assert.StartsWith($"{Memory}/deflake-", server.DataDirectory, StringComparison.Ordinal);
        Assert.StartsWith(scope.Runtime.Path, server.ServerDirectory, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(server.DataDirectory)!));
        }

        Assert.False(Directory.Exists(Path.Combine(server.ServerDirectory, "data")));
        Assert.Equal(server.DataDirectory, await ShowAsync(server, "data_directory"));
        Assert.Equal(server.ServerDirectory, await ShowAsync(server, "unix_socket_directories"));
        Assert.Equal("256MB", await ShowAsync(server, "max_wal_size")); // the log is RAM too
        Assert.Equal("off", await ShowAsync(server, "log_checkpoints"));

        // A process that attaches learns where the running server's data is, whatever its own setting says.
        var attached = await PostgresLocalServer.StartAsync(new PostgresLocalServerOptions { RuntimeDirectory = scope.Runtime.Path, DataDirectory = "disk" }, Token);
        Assert.False(attached.WasStarted);
        Assert.Equal(server.DataDirectory, attached.DataDirectory);
    }

    [Fact]
    public async Task Two_runtime_directories_never_share_in_memory_data()
    {
        Assert.SkipUnless(Directory.Exists(Memory), "no /dev/shm here");
        await using var first = new PrivateServer();
        await using var second = new PrivateServer();

        var one = await first.StartAsync(new PostgresLocalServerOptions { DataDirectory = "memory" });
        var two = await second.StartAsync(new PostgresLocalServerOptions { DataDirectory = "memory" });

        Assert.NotEqual(one.DataDirectory, two.DataDirectory);
        Assert.Equal(two.DataDirectory, await ShowAsync(two, "data_directory"));
    }

    [Fact]
    public async Task Disk_keeps_the_data_in_the_runtime_directory()
    {
        await using var scope = new PrivateServer();
        var server = await scope.StartAsync(new PostgresLocalServerOptions { DataDirectory = "disk" });

        Assert.Equal(Path.Combine(server.ServerDirectory, "data"), server.DataDirectory);
        Assert.Equal(server.DataDirectory, await ShowAsync(server, "data_directory"));
    }

    [Fact]
    public async Task An_absolute_folder_holds_the_data()
    {
        using var folder = new TempDirectory();
        await using var scope = new PrivateServer();
        var server = await scope.StartAsync(new PostgresLocalServerOptions { DataDirectory = folder.Path });

        Assert.StartsWith(folder.Path + "/postgres-", server.DataDirectory, StringComparison.Ordinal);
        Assert.Equal(server.DataDirectory, await ShowAsync(server, "data_directory"));
    }

    [Fact]
    public async Task Auto_falls_back_to_disk_and_says_why_when_memory_has_no_room_and_memory_then_fails()
    {
        await using var scope = new PrivateServer();
        var noRoom = new PostgresLocalServerOptions { DataDirectory = "auto", MemoryMinimumFreeBytes = long.MaxValue };
        var server = await scope.StartAsync(noRoom);

        Assert.Equal(Path.Combine(server.ServerDirectory, "data"), server.DataDirectory);
        Assert.Contains("MB free", server.DataDirectoryReason, StringComparison.Ordinal);
        await server.StopAsync(Token);

        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
            scope.StartAsync(new PostgresLocalServerOptions { DataDirectory = "memory", MemoryMinimumFreeBytes = long.MaxValue }));
        Assert.Equal("PostgresLocalServerOptions.DataDirectory", error.Setting);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("in-memory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_restart_after_the_in_memory_data_vanished_makes_a_fresh_server()
    {
        Assert.SkipUnless(Directory.Exists(Memory), "no /dev/shm here");
        await using var scope = new PrivateServer();
        var options = new PostgresLocalServerOptions { DataDirectory = "memory" };
        var server = await scope.StartAsync(options);
        await ExecuteAsync(server, "create database vanishes");
        await server.StopAsync(Token);

        // What a reboot does to /dev/shm while the runtime directory (and its notes, socket lock) stays.
        Directory.Delete(Path.GetDirectoryName(server.DataDirectory)!, recursive: true);
        var again = await scope.StartAsync(options);

        Assert.True(again.WasStarted);
        Assert.Equal(server.DataDirectory, again.DataDirectory);
        Assert.Equal(0L, await ScalarAsync<long>(again, "select count(*) from pg_database where datname = 'vanishes'"));
    }

    [Fact]
    public async Task An_older_on_disk_data_folder_moves_to_memory_at_the_next_start()
    {
        Assert.SkipUnless(Directory.Exists(Memory), "no /dev/shm here");
        await using var scope = new PrivateServer();
        var old = await scope.StartAsync(new PostgresLocalServerOptions { DataDirectory = "disk" });
        var diskData = old.DataDirectory;
        await old.StopAsync(Token);
        File.Delete(Path.Combine(old.ServerDirectory, "data-directory")); // older versions wrote no note

        var server = await scope.StartAsync(new PostgresLocalServerOptions { DataDirectory = "auto" });

        Assert.True(server.WasStarted);
        Assert.StartsWith(Memory, server.DataDirectory, StringComparison.Ordinal);
        Assert.False(Directory.Exists(diskData), "the old on-disk data folder should be removed once the data moved");
        Assert.Equal(server.DataDirectory, await ShowAsync(server, "data_directory"));
    }

    [Fact]
    public async Task Bad_data_directory_options_fail_with_one_line_naming_the_option()
    {
        foreach (var bad in new[] { "relative/folder", " ", "ram" })
        {
            var options = new PostgresLocalServerOptions { DataDirectory = bad };
            var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() => PostgresLocalServer.StartAsync(options, Token));

            Assert.Equal("PostgresLocalServerOptions.DataDirectory", error.Setting);
            Assert.DoesNotContain('\n', error.Message);
            Assert.Contains("auto, memory, disk, or an absolute folder", error.Message, StringComparison.Ordinal);
        }
    }

    private static async Task<string> ShowAsync(PostgresLocalServer server, string setting)
        => await ScalarAsync<string>(server, $"show {setting}");

    private static async Task<T> ScalarAsync<T>(PostgresLocalServer server, string sql)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString + ";Pooling=false");
        await connection.OpenAsync(Token);
        return await TestSchemas.ScalarAsync<T>(connection, sql, Token);
    }

    private static async Task ExecuteAsync(PostgresLocalServer server, string sql)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString + ";Pooling=false");
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Token);
    }
}

/// <summary>The env var is process-wide: these tests run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(ProcessEnvironment), DisableParallelization = true)]
public sealed class ProcessEnvironment;

[Collection(nameof(ProcessEnvironment))]
public sealed class PostgresDataDirectoryVariableTests
{
    [Fact]
    public void DEFLAKE_POSTGRES_DATA_DIR_chooses_the_location_and_a_bad_value_names_the_variable()
    {
        var before = Environment.GetEnvironmentVariable(DeflakeEnvironment.PostgresDataDirectory);
        try
        {
            Environment.SetEnvironmentVariable(DeflakeEnvironment.PostgresDataDirectory, "disk");
            Assert.Equal(DataLocationKind.Disk, new PostgresLocalServerOptions().ResolveDataLocation().Kind);

            Environment.SetEnvironmentVariable(DeflakeEnvironment.PostgresDataDirectory, "/mnt/ramdisk");
            Assert.Equal("/mnt/ramdisk", new PostgresLocalServerOptions().ResolveDataLocation().Folder);

            // The option wins over the variable.
            Assert.Equal(DataLocationKind.Memory, new PostgresLocalServerOptions { DataDirectory = "memory" }.ResolveDataLocation().Kind);

            Environment.SetEnvironmentVariable(DeflakeEnvironment.PostgresDataDirectory, "shm");
            var error = Assert.Throws<DeflakeConfigurationException>(() => new PostgresLocalServerOptions().Validate());
            Assert.Equal(DeflakeEnvironment.PostgresDataDirectory, error.Setting);
            Assert.DoesNotContain('\n', error.Message);
            Assert.Contains("'shm' is neither a keyword nor an absolute folder", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(DeflakeEnvironment.PostgresDataDirectory, before);
        }
    }
}

/// <summary>
/// A server of its own (private runtime directory) for a test; stopped at the end, with its runtime directory and
/// any data folder it kept elsewhere (memory) removed.
/// </summary>
internal sealed class PrivateServer : IAsyncDisposable
{
    private readonly List<PostgresLocalServer> _started = [];

    public TempDirectory Runtime { get; } = new();

    public async Task<PostgresLocalServer> StartAsync(PostgresLocalServerOptions options)
    {
        options.RuntimeDirectory = Runtime.Path;
        var server = await PostgresLocalServer.StartAsync(options, TestContext.Current.CancellationToken);
        _started.Add(server);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _started)
        {
            try
            {
                await server.StopAsync(CancellationToken.None);
            }
            catch (InvalidOperationException)
            {
            }
        }

        foreach (var data in _started.Select(s => Path.GetDirectoryName(s.DataDirectory)!).Distinct(StringComparer.Ordinal))
        {
            if (!data.StartsWith(Runtime.Path, StringComparison.Ordinal) && Directory.Exists(data))
            {
                try
                {
                    Directory.Delete(data, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }

        Runtime.Dispose();
    }
}
