using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Deflake.Coordination;
using Deflake.Internal;
using Deflake.MariaDb.Internal;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb;

/// <summary>
/// A throwaway MariaDB server made from the binaries installed on this machine (<c>mariadb-install-db</c>,
/// <c>mariadbd</c>), shared by every test process of this user: the first process creates and starts it, the others
/// attach. It listens only on a Unix socket in the runtime directory (no TCP port), keeps its data in memory when it
/// can, is tuned for tests (no binary log, no doublewrite, no flush at commit), and stops itself once no client has been
/// connected for <see cref="MariaDbLocalServerOptions.IdleShutdown"/>. The admin user is <c>root</c> with a generated
/// password kept in a 0600 file in the 0700 server folder. As root, <c>mariadbd</c> runs with <c>--user=root</c>.
/// </summary>
/// <example>
/// <code>
/// await using var server = await MariaDbLocalServer.StartAsync();
/// </code>
/// </example>
public sealed partial class MariaDbLocalServer : IAsyncDisposable
{
    /// <summary>Every tool runs in the C locale, so its messages and version line read the same everywhere.</summary>
    private static readonly Dictionary<string, string> CLocale = new(StringComparer.Ordinal) { ["LC_ALL"] = "C" };

    private const string Setting = DeflakeEnvironment.MariaDb;
    private const string InstalledMarker = "deflake-installed";
    private readonly MariaDbLocalServerOptions _options;
    private readonly Binaries _binaries;

    private MariaDbLocalServer(MariaDbLocalServerOptions options, Binaries binaries, string version, string serverDirectory, string lockPath)
    {
        _options = options;
        _binaries = binaries;
        Version = version;
        ServerDirectory = serverDirectory;
        LockPath = lockPath;
        DataDirectory = Path.Combine(serverDirectory, "data");
    }

    /// <summary>Server version of the binaries (for example <c>10.11.19</c>).</summary>
    public string Version { get; }

    /// <summary>Folder holding the socket, the log (<c>server.log</c>), the password file and the watchdog.</summary>
    public string ServerDirectory { get; }

    /// <summary>The running server's data folder (in memory or in <see cref="ServerDirectory"/>).</summary>
    public string DataDirectory { get; private set; }

    /// <summary>The Unix socket the server listens on.</summary>
    public string SocketPath => Path.Combine(ServerDirectory, "mysqld.sock");

    /// <summary>The server log.</summary>
    public string LogFile => Path.Combine(ServerDirectory, "server.log");

    /// <summary>The lock file that serialises starting and stopping across processes.</summary>
    public string LockPath { get; }

    /// <summary>True when this call started the server; false when it attached to a running one.</summary>
    public bool WasStarted { get; private set; }

    /// <summary>Admin connection string (root over the Unix socket; holds the generated password: never print it).</summary>
    public string ConnectionString { get; private set; } = "";

    private string PasswordFile => Path.Combine(ServerDirectory, "password");

    /// <summary>Starts the shared throwaway server, or attaches to it when another process already did.</summary>
    /// <exception cref="DeflakeConfigurationException">No MariaDB binaries, or the server would not start; the message says what to do.</exception>
    public static async Task<MariaDbLocalServer> StartAsync(MariaDbLocalServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new MariaDbLocalServerOptions();
        options.Validate();
        var binaries = FindBinaries(options);
        var version = await ReadVersionAsync(binaries.Server, cancellationToken).ConfigureAwait(false);
        var runtime = LocalServerStart.RuntimeDirectory(options.RuntimeDirectory, "MariaDbLocalServerOptions.RuntimeDirectory");
        var series = string.Join('.', version.Split('.').Take(2));
        var serverDirectory = Path.Combine(runtime, $"mariadb-{series}");
        LocalServerStart.CheckSocketPath(runtime, Path.Combine(serverDirectory, "mysqld.sock"));

        var server = new MariaDbLocalServer(options, binaries, version, serverDirectory, Path.Combine(runtime, $"mariadb-{series}.lock"));
        await server.StartOrAttachAsync(cancellationToken).ConfigureAwait(false);
        return server;
    }

    /// <summary>
    /// Attaches to the shared throwaway server when it is running, and never starts it (for <c>deflake gc</c>): null when
    /// it is not running, or when no MariaDB binaries are installed (then none can be).
    /// </summary>
    public static async Task<MariaDbLocalServer?> AttachIfRunningAsync(MariaDbLocalServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new MariaDbLocalServerOptions();
        options.Validate();
        Binaries binaries;
        try
        {
            binaries = FindBinaries(options);
        }
        catch (DeflakeConfigurationException)
        {
            return null;
        }

        var version = await ReadVersionAsync(binaries.Server, cancellationToken).ConfigureAwait(false);
        var runtime = Path.GetFullPath(options.RuntimeDirectory ?? DeflakeEnvironment.GetRuntimeDirectory());
        var series = string.Join('.', version.Split('.').Take(2));
        var serverDirectory = Path.Combine(runtime, $"mariadb-{series}");
        var server = new MariaDbLocalServer(options, binaries, version, serverDirectory, Path.Combine(runtime, $"mariadb-{series}.lock"));
        if (!File.Exists(server.PasswordFile) || !File.Exists(server.SocketPath))
        {
            return null;
        }

        var gate = await LocalServerStart.AcquireLockAsync(server.LockPath, options.StartTimeout, "MariaDbLocalServerOptions.StartTimeout",
            "MariaDB server", server.LogFile, DeflakeEnvironment.MariaDb, cancellationToken).ConfigureAwait(false);
        await using (gate.ConfigureAwait(false))
        {
            server.ConnectionString = new MySqlConnectionStringBuilder
            {
                Server = server.SocketPath,
                ConnectionProtocol = MySqlConnectionProtocol.Unix,
                UserID = "root",
                Password = await server.EnsurePasswordAsync(cancellationToken).ConfigureAwait(false),
                SslMode = MySqlSslMode.None,
                CharacterSet = "utf8mb4",
                AllowUserVariables = true,
            }.ConnectionString;
            if (!await server.IsRunningAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            server.DataDirectory = server.ReadNote("data-directory") ?? server.DataDirectory;
            var attached = Path.Combine(serverDirectory, "attached");
            await File.WriteAllTextAsync(attached, Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
            File.SetLastWriteTimeUtc(attached, DateTime.UtcNow);
            return server;
        }
    }

    private async Task StartOrAttachAsync(CancellationToken cancellationToken)
    {
        var gate = await LocalServerStart.AcquireLockAsync(LockPath, _options.StartTimeout, "MariaDbLocalServerOptions.StartTimeout",
            "MariaDB server", LogFile, DeflakeEnvironment.MariaDb, cancellationToken).ConfigureAwait(false);
        await using (gate.ConfigureAwait(false))
        {
            Directory.CreateDirectory(ServerDirectory);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(ServerDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            var password = await EnsurePasswordAsync(cancellationToken).ConfigureAwait(false);
            ConnectionString = new MySqlConnectionStringBuilder
            {
                Server = SocketPath,
                ConnectionProtocol = MySqlConnectionProtocol.Unix,
                UserID = "root",
                Password = password,
                SslMode = MySqlSslMode.None,
                CharacterSet = "utf8mb4",
                AllowUserVariables = true,
            }.ConnectionString;

            if (await IsRunningAsync(cancellationToken).ConfigureAwait(false))
            {
                DataDirectory = ReadNote("data-directory") ?? DataDirectory;
            }
            else
            {
                DataDirectory = ChooseDataDirectory();
                await File.WriteAllTextAsync(Path.Combine(ServerDirectory, "data-directory"), DataDirectory, cancellationToken).ConfigureAwait(false);
                if (!File.Exists(Path.Combine(DataDirectory, InstalledMarker)))
                {
                    await InstallAsync(cancellationToken).ConfigureAwait(false);
                }

                await StartServerAsync(password, cancellationToken).ConfigureAwait(false);
                WasStarted = true;
                await StartWatchdogAsync(cancellationToken).ConfigureAwait(false);
            }

            // Also on a server started by an older Deflake (INSTALL SONAME is remembered in the data folder).
            await LoadLockInfoPluginAsync(cancellationToken).ConfigureAwait(false);

            // The watchdog will not stop a server attached to within the idle period, so the caller can connect safely.
            var attached = Path.Combine(ServerDirectory, "attached");
            await File.WriteAllTextAsync(attached, Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
            File.SetLastWriteTimeUtc(attached, DateTime.UtcNow);
        }
    }

    private string? ReadNote(string name)
    {
        var path = Path.Combine(ServerDirectory, name);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    private async Task<string> EnsurePasswordAsync(CancellationToken cancellationToken)
    {
        if (File.Exists(PasswordFile))
        {
            var existing = (await File.ReadAllTextAsync(PasswordFile, cancellationToken).ConfigureAwait(false)).Trim();
            if (existing.Length >= 20)
            {
                return existing;
            }
        }

        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        await WritePrivateAsync(PasswordFile, password, cancellationToken).ConfigureAwait(false);
        return password;
    }

    private static async Task WritePrivateAsync(string path, string content, CancellationToken cancellationToken)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var stream = new FileStream(path, options);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(content), cancellationToken).ConfigureAwait(false);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private async Task<bool> IsRunningAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(SocketPath))
        {
            return false;
        }

        var builder = new MySqlConnectionStringBuilder(ConnectionString) { Pooling = false, ConnectionTimeout = 5 };
        try
        {
            var connection = await Connections.OpenAsync(builder.ConnectionString, cancellationToken).ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
            return true;
        }
        catch (MySqlException)
        {
            return false;
        }
    }

    /// <summary>
    /// Loads MariaDB's <c>metadata_lock_info</c> plugin (shipped with the server) into the throwaway server: with it, a
    /// restore can tell an idle pooled session that holds nothing from one that holds a lock or a transaction, and keeps
    /// the idle ones (see <see cref="MariaDbEngine.RestoreCloneAsync"/>). A server without the plugin still works: its
    /// restores end every session instead.
    /// </summary>
    private async Task LoadLockInfoPluginAsync(CancellationToken cancellationToken)
    {
        try
        {
            var connection = await Connections.OpenAsync(new MySqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString, cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                var loaded = await Connections.ScalarAsync(connection,
                    "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO'", cancellationToken).ConfigureAwait(false);
                if (Convert.ToInt64(loaded, CultureInfo.InvariantCulture) == 0)
                {
                    await Connections.ExecuteAsync(connection, "INSTALL SONAME 'metadata_lock_info'", cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (MySqlException)
        {
            // Not shipped with this build of the server: restores take the slower way.
        }
    }

    private string ChooseDataDirectory()
    {
        var disk = Path.Combine(ServerDirectory, "data");
        if (_options.DataDirectory == "disk")
        {
            return disk;
        }

        string? whyNot = null;
        try
        {
            if (!Directory.Exists(_options.MemoryFileSystem))
            {
                whyNot = $"{_options.MemoryFileSystem} does not exist";
            }
            else if (new DriveInfo(_options.MemoryFileSystem).AvailableFreeSpace < _options.MemoryMinimumFreeBytes)
            {
                whyNot = $"{_options.MemoryFileSystem} has less than {_options.MemoryMinimumFreeBytes >> 20} MB free";
            }
            else
            {
                var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ServerDirectory)), 0, 4);
                var parent = Path.Combine(_options.MemoryFileSystem, $"deflake-{Environment.UserName}", $"{Path.GetFileName(ServerDirectory)}-{hash}");
                Directory.CreateDirectory(parent);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(parent, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }

                return Path.Combine(parent, "data");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            whyNot = $"{_options.MemoryFileSystem} is not writable ({ex.Message})";
        }

        if (_options.DataDirectory == "memory")
        {
            throw new DeflakeConfigurationException("MariaDbLocalServerOptions.DataDirectory", $"asks for in-memory data, but {whyNot}; free memory there, or use auto or disk.");
        }

        return disk;
    }

    private async Task InstallAsync(CancellationToken cancellationToken)
    {
        if (Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }

        var staging = DataDirectory + ".new-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(staging);
        List<string> arguments = ["--no-defaults", $"--datadir={staging}", "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"];
        if (Environment.IsPrivilegedProcess)
        {
            arguments.Add("--user=root");
        }

        var result = await ProcessRunner.RunAsync(_binaries.Install, arguments, _options.StartTimeout, CLocale, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            Directory.Delete(staging, recursive: true);
            throw new DeflakeConfigurationException(Setting,
                $"'{Path.GetFileName(_binaries.Install)}' could not create the throwaway server's data folder ({result.FirstErrorLine()}); fix the MariaDB installation, or set DEFLAKE_MARIADB to an existing server.");
        }

        await File.WriteAllTextAsync(Path.Combine(staging, InstalledMarker), "Deflake throwaway server", cancellationToken).ConfigureAwait(false);
        Directory.Move(staging, DataDirectory);
    }

    private async Task StartServerAsync(string password, CancellationToken cancellationToken)
    {
        // Runs at every start, so the generated password is always the one in the password file.
        var init = Path.Combine(ServerDirectory, "init.sql");
        await WritePrivateAsync(init, string.Join('\n',
            $"ALTER USER 'root'@'localhost' IDENTIFIED BY {Quote.Literal(password)};",
            "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';",
            "DELETE FROM mysql.global_priv WHERE User = '';",
            "FLUSH PRIVILEGES;",
            ""), cancellationToken).ConfigureAwait(false);
        await WritePrivateAsync(Path.Combine(ServerDirectory, "client.cnf"),
            $"[client]\nuser=root\npassword={password}\nsocket={SocketPath}\n", cancellationToken).ConfigureAwait(false);

        File.Delete(SocketPath);
        List<string> arguments =
        [
            "--no-defaults", $"--datadir={DataDirectory}", $"--socket={SocketPath}", $"--pid-file={Path.Combine(ServerDirectory, "mysqld.pid")}",
            $"--log-error={LogFile}", $"--init-file={init}", "--skip-networking", "--skip-name-resolve", "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--innodb-buffer-pool-size=128M", "--innodb-log-file-size=64M",
            // Tables in the shared system tablespace: a clone's CREATE TABLEs and its DROP DATABASE create and delete no
            // files (measured: a 20-table clone 10–12 ms instead of 22–45 ms, its drop 1–3 ms instead of 2–9 ms).
            "--innodb-file-per-table=OFF",
            "--performance-schema=OFF", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
            $"--max-connections={_options.MaxConnections.ToString(CultureInfo.InvariantCulture)}", "--table-open-cache=4000",
        ];
        if (Environment.IsPrivilegedProcess)
        {
            arguments.Add("--user=root");
        }

        // setsid + redirects: the server holds none of this process's pipes (CI waits for whoever holds them) and outlives it.
        var started = await ProcessRunner.RunAsync("/bin/sh",
            ["-c", "setsid \"$0\" \"$@\" </dev/null >/dev/null 2>&1 & echo $!", _binaries.Server, .. arguments],
            TimeSpan.FromSeconds(30), CLocale, cancellationToken).ConfigureAwait(false);
        if (started.ExitCode != 0 || !int.TryParse(started.Output.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid))
        {
            throw new DeflakeConfigurationException(Setting, $"could not launch '{_binaries.Server}' ({started.FirstErrorLine()}); set DEFLAKE_MARIADB to an existing server.");
        }

        var deadline = DateTime.UtcNow + _options.StartTimeout;
        var delay = 20;
        while (true)
        {
            if (await IsRunningAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            var alive = Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}");
            if (!alive || DateTime.UtcNow > deadline)
            {
                var log = File.Exists(LogFile) ? LastError(await File.ReadAllLinesAsync(LogFile, cancellationToken).ConfigureAwait(false)) : null;
                throw new DeflakeConfigurationException(Setting,
                    $"the throwaway MariaDB server in '{DataDirectory}' did not start ({log ?? (alive ? "timed out" : "it exited")}); see {LogFile}, or set DEFLAKE_MARIADB to an existing server.");
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = Math.Min(delay * 2, 200);
        }
    }

    private static string? LastError(string[] lines)
        => lines.Reverse().Select(l => l.Trim()).FirstOrDefault(l => l.Contains("[ERROR]", StringComparison.Ordinal));

    private async Task StartWatchdogAsync(CancellationToken cancellationToken)
    {
        if (_options.IdleShutdown == Timeout.InfiniteTimeSpan || _binaries.Client is null || _binaries.Admin is null)
        {
            return;
        }

        var idle = Math.Max(1, (int)Math.Ceiling(_options.IdleShutdown.TotalSeconds));
        var interval = Math.Clamp(idle / 4, 1, 30);
        var script = Path.Combine(ServerDirectory, "watchdog.sh");
        await File.WriteAllTextAsync(script, WatchdogScript, cancellationToken).ConfigureAwait(false);
        var result = await ProcessRunner.RunAsync("/bin/sh",
            ["-c", "setsid /bin/sh \"$0\" \"$@\" </dev/null >/dev/null 2>&1 &", script, ServerDirectory, LockPath,
                idle.ToString(CultureInfo.InvariantCulture), interval.ToString(CultureInfo.InvariantCulture), _binaries.Client, _binaries.Admin],
            TimeSpan.FromSeconds(30), CLocale, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"Deflake could not start the idle watchdog of the throwaway MariaDB server: {result.FirstErrorLine()}");
        }
    }

    /// <summary>Stops the shared server now. Other processes that use it will fail; normally let the idle shutdown stop it.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var gate = await CrossProcessLock.AcquireAsync(LockPath, _options.StartTimeout, cancellationToken).ConfigureAwait(false);
        await using (gate.ConfigureAwait(false))
        {
            if (!await IsRunningAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            var connection = await Connections.OpenAsync(new MySqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString, cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                await Connections.ExecuteAsync(connection, "SHUTDOWN", cancellationToken).ConfigureAwait(false);
            }

            var deadline = DateTime.UtcNow + _options.StartTimeout;
            while (File.Exists(Path.Combine(ServerDirectory, "mysqld.pid")) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Does not stop the server: it is shared with other processes and stops itself when idle.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    internal sealed record Binaries(string Server, string Install, string? Client, string? Admin);

    internal static Binaries FindBinaries(MariaDbLocalServerOptions options)
    {
        static string? First(IEnumerable<string> directories, params string[] names)
            => directories.SelectMany(d => names.Select(n => Path.Combine(d, n))).FirstOrDefault(File.Exists);

        List<string> directories;
        string setting;
        if (options.BinDirectory is not null)
        {
            directories = [Path.GetFullPath(options.BinDirectory)];
            setting = "MariaDbLocalServerOptions.BinDirectory";
        }
        else if (Environment.GetEnvironmentVariable(DeflakeEnvironment.MariaDbBinDirectory) is { Length: > 0 } configured && options.SearchDirectories is null)
        {
            directories = [Path.GetFullPath(configured)];
            setting = DeflakeEnvironment.MariaDbBinDirectory;
        }
        else
        {
            directories = options.SearchDirectories?.ToList()
                ?? [.. (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries),
                    "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/opt/homebrew/bin", "/usr/local/mysql/bin"];
            setting = Setting;
        }

        var server = First(directories, "mariadbd", "mysqld");
        var install = First(directories, "mariadb-install-db", "mysql_install_db");
        if (server is null || install is null)
        {
            var missing = server is null ? "mariadbd" : "mariadb-install-db";
            throw new DeflakeConfigurationException(setting,
                $"no MariaDB server binaries found ({missing} is not in {string.Join(", ", directories.Distinct(StringComparer.Ordinal).Take(8))}); install mariadb-server (apt-get install mariadb-server), or set DEFLAKE_MARIADB to an existing server's admin connection string.");
        }

        var clientDirectories = directories.Concat(["/usr/bin", "/usr/local/bin"]).ToList();
        return new Binaries(server, install, First(clientDirectories, "mariadb", "mysql"), First(clientDirectories, "mariadb-admin", "mysqladmin"));
    }

    private static async Task<string> ReadVersionAsync(string server, CancellationToken cancellationToken)
    {
        var result = await ProcessRunner.RunAsync(server, ["--version"], TimeSpan.FromSeconds(30), CLocale, cancellationToken).ConfigureAwait(false);
        var match = VersionPattern().Match(result.Output);
        if (result.ExitCode != 0 || !match.Success)
        {
            throw new DeflakeConfigurationException(Setting, $"'{server} --version' did not print a version ({result.FirstErrorLine()}); fix the MariaDB installation, or set DEFLAKE_MARIADB.");
        }

        if (!result.Output.Contains("MariaDB", StringComparison.OrdinalIgnoreCase))
        {
            throw new DeflakeConfigurationException(Setting,
                $"'{server}' is MySQL, not MariaDB; the throwaway server needs MariaDB (install mariadb-server), or set DEFLAKE_MARIADB to a running MySQL server.");
        }

        return match.Value;
    }

    [GeneratedRegex(@"\d+\.\d+\.\d+")]
    private static partial Regex VersionPattern();

    // The idle watchdog (see LocalServerStart.WatchdogScript): clients counted in the process list, stopped with mariadb-admin.
    private static readonly string WatchdogScript = LocalServerStart.WatchdogScript(
        """
        #!/bin/sh
        # Deflake idle watchdog for the throwaway MariaDB server (safe to kill; it is restarted with the server).
        dir=$1; lock=$2; idle=$3; interval=$4; client=$5; admin=$6
        echo $$ > "$dir/watchdog.pid"
        clients() {
          "$client" --defaults-extra-file="$dir/client.cnf" -N -B -e \
            "select count(*) from information_schema.processlist where id <> connection_id() and command <> 'Daemon' and user <> 'system user'" 2>/dev/null || echo busy
        }
        """,
        "[ -S \"$dir/mysqld.sock\" ]",
        "\"$admin\" --defaults-extra-file=\"$dir/client.cnf\" shutdown");
}
