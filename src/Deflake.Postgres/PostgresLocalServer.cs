using System.Globalization;
using System.Net.Sockets;
using Deflake.Coordination;
using Deflake.Internal;
using Npgsql;

namespace Deflake.Postgres;

/// <summary>
/// A throwaway PostgreSQL server made from the binaries installed on this machine, shared by every test process of
/// this user: the first process creates and starts it, the others attach. It listens only on a Unix socket in the
/// runtime directory, keeps its data in memory when it can (<see cref="PostgresLocalServerOptions.DataDirectory"/>),
/// is tuned for tests (no fsync), and stops itself once no client has been connected for
/// <see cref="PostgresLocalServerOptions.IdleShutdown"/>. When this process runs as root, the PostgreSQL tools run as
/// the unprivileged <c>postgres</c> user.
/// </summary>
/// <remarks>
/// Memory footprint with in-memory data: about 8 MB per database (PostgreSQL's catalogs; add your schema and seed
/// rows), so the system databases, each cached template and each live clone count. The data stays in memory after
/// the idle shutdown (templates are reused by the next run); templates no pool has used for
/// <see cref="PostgresEngineOptions.DropTemplatesUnusedFor"/> are dropped at the next pool start, and data folders
/// whose runtime directory is gone are removed at the next start of any in-memory server of the same user.
/// A reboot wipes it all; the next start makes a fresh server.
/// </remarks>
/// <example>
/// <code>
/// await using var server = await PostgresLocalServer.StartAsync();
/// Console.WriteLine(server.ConnectionString); // Host=/tmp/deflake-me/postgres-15;Port=5432;Username=deflake;Database=postgres
/// </code>
/// </example>
public sealed partial class PostgresLocalServer : IAsyncDisposable
{
    /// <summary>The port number in the socket's name (the server opens no TCP port).</summary>
    public const int Port = 5432;

    /// <summary>The superuser the server is created with (trust authentication on the private socket).</summary>
    public const string SuperUser = "deflake";

    private const string Setting = DeflakeEnvironment.Postgres;

    /// <summary>In the server folder: the data folder of the server last started there.</summary>
    private const string DataNoteFile = "data-directory";

    /// <summary>In a data folder's parent (memory or a chosen folder): the server folder it belongs to.</summary>
    private const string OwnerNoteFile = "server-directory";

    /// <summary>A line every postgresql.conf Deflake writes carries: a folder without it is never removed.</summary>
    private const string ConfMarker = "# Deflake throwaway server";
    private readonly PostgresLocalServerOptions _options;
    private readonly RootRunner? _runAs;

    private PostgresLocalServer(PostgresLocalServerOptions options, string binDirectory, int majorVersion, string serverDirectory, string lockPath, RootRunner? runAs)
    {
        _options = options;
        BinDirectory = binDirectory;
        MajorVersion = majorVersion;
        ServerDirectory = serverDirectory;
        DataDirectory = Path.Combine(serverDirectory, "data");
        LockPath = lockPath;
        _runAs = runAs;
        ConnectionString = new NpgsqlConnectionStringBuilder
        {
            Host = serverDirectory,
            Port = Port,
            Username = SuperUser,
            Database = "postgres",
        }.ConnectionString;
    }

    /// <summary>Admin connection string (superuser, no password: trust on the private socket).</summary>
    public string ConnectionString { get; }

    /// <summary>Folder with the PostgreSQL binaries in use.</summary>
    public string BinDirectory { get; }

    /// <summary>Major version of those binaries (15 for PostgreSQL 15.x).</summary>
    public int MajorVersion { get; }

    /// <summary>Folder holding the socket, the log (<c>server.log</c>), the watchdog and, on disk, the data folder (<c>data</c>).</summary>
    public string ServerDirectory { get; }

    /// <summary>
    /// The running server's data folder: in memory (<c>/dev/shm/deflake-USER/postgres-MAJOR-HASH/data</c>) or in
    /// <see cref="ServerDirectory"/> (see <see cref="PostgresLocalServerOptions.DataDirectory"/>).
    /// </summary>
    public string DataDirectory { get; private set; }

    /// <summary>Why the data is where it is (for the log): the setting, or why memory was not used.</summary>
    internal string DataDirectoryReason { get; private set; } = "";

    /// <summary>The server log.</summary>
    public string LogFile => Path.Combine(ServerDirectory, "server.log");

    /// <summary>The lock file that serialises starting and stopping across processes.</summary>
    public string LockPath { get; }

    /// <summary>True when this call started the server (or created it); false when it attached to a running one.</summary>
    public bool WasStarted { get; private set; }

    /// <summary>
    /// Starts the shared throwaway server, or attaches to it when another process already did. Creates the data
    /// folder the first time (a few seconds), later starts take well under a second, attaching a few milliseconds.
    /// </summary>
    /// <exception cref="DeflakeConfigurationException">No PostgreSQL binaries, running as root without a
    /// <c>postgres</c> user, or the server would not start; the message says what to do.</exception>
    public static async Task<PostgresLocalServer> StartAsync(PostgresLocalServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PostgresLocalServerOptions();
        options.Validate();
        var binDirectory = await FindBinariesAsync(options.BinDirectory, cancellationToken: cancellationToken).ConfigureAwait(false);
        var major = await ReadMajorVersionAsync(binDirectory, cancellationToken).ConfigureAwait(false);
        var runAs = Environment.IsPrivilegedProcess ? await RootRunner.CreateAsync(options.RootRunAsUser, cancellationToken).ConfigureAwait(false) : null;

        var runtime = LocalServerStart.RuntimeDirectory(options.RuntimeDirectory, "PostgresLocalServerOptions.RuntimeDirectory");
        var serverDirectory = Path.Combine(runtime, $"postgres-{major}");
        LocalServerStart.CheckSocketPath(runtime, Path.Combine(serverDirectory, $".s.PGSQL.{Port}"));

        var server = new PostgresLocalServer(options, binDirectory, major, serverDirectory, Path.Combine(runtime, $"postgres-{major}.lock"), runAs);
        await server.StartOrAttachAsync(cancellationToken).ConfigureAwait(false);
        return server;
    }

    /// <summary>
    /// Attaches to the shared throwaway server when it is running, and never starts it (for <c>deflake gc</c>): null when
    /// it is not running, or when no PostgreSQL binaries are installed (then none can be).
    /// </summary>
    public static async Task<PostgresLocalServer?> AttachIfRunningAsync(PostgresLocalServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PostgresLocalServerOptions();
        options.Validate();
        string binDirectory;
        try
        {
            binDirectory = await FindBinariesAsync(options.BinDirectory, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (DeflakeConfigurationException)
        {
            return null;
        }

        var major = await ReadMajorVersionAsync(binDirectory, cancellationToken).ConfigureAwait(false);
        var runtime = Path.GetFullPath(options.RuntimeDirectory ?? DeflakeEnvironment.GetRuntimeDirectory());
        var serverDirectory = Path.Combine(runtime, $"postgres-{major}");
        if (!Directory.Exists(serverDirectory))
        {
            return null;
        }

        var server = new PostgresLocalServer(options, binDirectory, major, serverDirectory, Path.Combine(runtime, $"postgres-{major}.lock"), runAs: null);
        var gate = await LocalServerStart.AcquireLockAsync(server.LockPath, options.StartTimeout, "PostgresLocalServerOptions.StartTimeout",
            "server", server.LogFile, DeflakeEnvironment.Postgres, cancellationToken).ConfigureAwait(false);
        await using (gate.ConfigureAwait(false))
        {
            if (!await server.IsRunningAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            server.DataDirectory = ReadNote(Path.Combine(serverDirectory, DataNoteFile)) ?? server.DataDirectory;
            server.DataDirectoryReason = "the running server's";
            await server.TouchAttachedAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
    }

    private async Task StartOrAttachAsync(CancellationToken cancellationToken)
    {
        var gate = await LocalServerStart.AcquireLockAsync(LockPath, _options.StartTimeout, "PostgresLocalServerOptions.StartTimeout",
            "server", LogFile, DeflakeEnvironment.Postgres, cancellationToken).ConfigureAwait(false);
        await using (gate.ConfigureAwait(false))
        {
            if (!await IsRunningAsync(cancellationToken).ConfigureAwait(false))
            {
                PrepareServerDirectory();
                await ChooseDataDirectoryAsync(cancellationToken).ConfigureAwait(false);
                await GiveToRunAsUserAsync(cancellationToken).ConfigureAwait(false);
                if (!File.Exists(Path.Combine(DataDirectory, "PG_VERSION")))
                {
                    // First start, or the in-memory data was wiped (reboot): make a fresh server.
                    await InitializeAsync(cancellationToken).ConfigureAwait(false);
                }

                await StartServerAsync(cancellationToken).ConfigureAwait(false);
                WasStarted = true;
                await StartWatchdogAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // Attached: the data is wherever the process that started the server put it.
                DataDirectory = ReadNote(Path.Combine(ServerDirectory, DataNoteFile)) ?? DataDirectory;
                DataDirectoryReason = "the running server's";
            }

            // The watchdog will not stop a server attached to within the idle period, so the caller can connect safely.
            await TouchAttachedAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> IsRunningAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Path.Combine(ServerDirectory, $".s.PGSQL.{Port}")))
        {
            return false;
        }

        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false, Timeout = 5 };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            try
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (NpgsqlException)
            {
                return false;
            }
            catch (SocketException)
            {
                return false;
            }
        }
    }

    private void PrepareServerDirectory()
    {
        Directory.CreateDirectory(ServerDirectory);
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        File.SetUnixFileMode(ServerDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>As root: the socket folder and the data folder's parent belong to the user that runs the server.</summary>
    private async Task GiveToRunAsUserAsync(CancellationToken cancellationToken)
    {
        if (_runAs is null)
        {
            return;
        }

        await _runAs.ChownAsync(ServerDirectory, DeflakeEnvironment.RuntimeDirectory, "set DEFLAKE_RUNTIME_DIR to a local folder such as /tmp/deflake", cancellationToken).ConfigureAwait(false);
        await _runAs.CheckCanWriteAsync(ServerDirectory, DeflakeEnvironment.RuntimeDirectory, "set DEFLAKE_RUNTIME_DIR to a folder it can reach, such as /tmp/deflake", cancellationToken).ConfigureAwait(false);
        var dataParent = Path.GetDirectoryName(DataDirectory)!;
        if (dataParent != ServerDirectory)
        {
            await _runAs.ChownAsync(dataParent, DeflakeEnvironment.PostgresDataDirectory, "set DEFLAKE_POSTGRES_DATA_DIR to disk or to a folder it may own", cancellationToken).ConfigureAwait(false);
            await _runAs.CheckCanWriteAsync(dataParent, DeflakeEnvironment.PostgresDataDirectory, "set DEFLAKE_POSTGRES_DATA_DIR to disk or to a folder it can reach", cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var dataParent = Path.GetDirectoryName(DataDirectory)!;
        var staging = Path.Combine(dataParent, "data.tmp");
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        if (Directory.Exists(DataDirectory))
        {
            // A data folder without PG_VERSION is a broken leftover: initdb needs an empty place.
            Directory.Delete(DataDirectory, recursive: true);
        }

        var result = await RunToolAsync("initdb",
            ["-D", staging, "-U", SuperUser, "--auth-local=trust", "--auth-host=reject", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new DeflakeConfigurationException(Setting,
                $"initdb failed in '{staging}' ({result.FirstErrorLine()}); fix that, or set DEFLAKE_POSTGRES to an existing server's admin connection string.");
        }

        var conf = string.Join('\n',
            "",
            ConfMarker + ": tuned for tests, its data is disposable.",
            "listen_addresses = ''",
            $"port = {Port}",
            $"unix_socket_directories = '{ServerDirectory.Replace("'", "''", StringComparison.Ordinal)}'",
            $"max_connections = {_options.MaxConnections.ToString(CultureInfo.InvariantCulture)}",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "wal_level = minimal",
            "max_wal_senders = 0",
            // In memory, the write-ahead log is RAM too: keep it small (checkpoints there cost no disk writes).
            dataParent == ServerDirectory ? "max_wal_size = 1GB" : "max_wal_size = 256MB",
            dataParent == ServerDirectory ? "min_wal_size = 80MB" : "min_wal_size = 32MB",
            "checkpoint_timeout = 30min",
            "autovacuum = off",
            "log_min_messages = warning",
            "log_checkpoints = off", // every clone and drop checkpoints: two log lines each, to disk, otherwise
            "");
        await File.AppendAllTextAsync(Path.Combine(staging, "postgresql.conf"), conf, cancellationToken).ConfigureAwait(false);
        Directory.Move(staging, DataDirectory);
    }

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        var seconds = Math.Max(5, (int)_options.StartTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        var result = await RunToolAsync("pg_ctl", ["start", "-w", "-t", seconds, "-D", DataDirectory, "-l", LogFile], cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            var log = File.Exists(LogFile) ? LastMeaningfulLine(await File.ReadAllLinesAsync(LogFile, cancellationToken).ConfigureAwait(false)) : null;
            throw new DeflakeConfigurationException(Setting,
                $"the throwaway PostgreSQL server in '{DataDirectory}' did not start ({log ?? result.FirstErrorLine()}); see {LogFile}, or set DEFLAKE_POSTGRES to an existing server.");
        }
    }

    private static string? LastMeaningfulLine(string[] lines)
        => lines.Reverse().Select(l => l.Trim()).FirstOrDefault(l => l.Contains("FATAL", StringComparison.Ordinal) || l.Contains("ERROR", StringComparison.Ordinal))
           ?? lines.Reverse().Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0);

    private async Task StartWatchdogAsync(CancellationToken cancellationToken)
    {
        if (_options.IdleShutdown == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        var idle = Math.Max(1, (int)Math.Ceiling(_options.IdleShutdown.TotalSeconds));
        var interval = Math.Clamp(idle / 4, 1, 30);
        var script = Path.Combine(ServerDirectory, "watchdog.sh");
        await File.WriteAllTextAsync(script, WatchdogScript, cancellationToken).ConfigureAwait(false);

        // setsid + redirects: the watchdog holds none of this process's pipes (CI waits for whoever holds them)
        // and survives this process. It is a plain shell loop so it needs no runtime of its own.
        var result = await ProcessRunner.RunAsync("/bin/sh",
            ["-c", "setsid /bin/sh \"$0\" \"$@\" </dev/null >/dev/null 2>&1 &", script, BinDirectory, ServerDirectory, LockPath,
                idle.ToString(CultureInfo.InvariantCulture), interval.ToString(CultureInfo.InvariantCulture), _runAs?.Prefix ?? "", DataDirectory],
            TimeSpan.FromSeconds(30), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"Deflake could not start the idle watchdog of the throwaway PostgreSQL server: {result.FirstErrorLine()}");
        }
    }

    private async Task TouchAttachedAsync(CancellationToken cancellationToken)
    {
        var path = Path.Combine(ServerDirectory, "attached");
        await File.WriteAllTextAsync(path, Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
    }

    /// <summary>
    /// Stops the shared server now (fast shutdown: connected clients are disconnected). Other processes that use it
    /// will fail; normally let the idle shutdown stop it instead.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var gate = await CrossProcessLock.AcquireAsync(LockPath, _options.StartTimeout, cancellationToken).ConfigureAwait(false);
        await using (gate.ConfigureAwait(false))
        {
            if (!File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                return;
            }

            var result = await RunToolAsync("pg_ctl", ["stop", "-w", "-m", "fast", "-D", DataDirectory], cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0 && File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                throw new InvalidOperationException($"Deflake could not stop the throwaway PostgreSQL server in '{DataDirectory}': {result.FirstErrorLine()}");
            }
        }
    }

    /// <summary>Does not stop the server: it is shared with other processes and stops itself when idle.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<ProcessRunner.Result> RunToolAsync(string tool, string[] arguments, CancellationToken cancellationToken)
    {
        var path = Path.Combine(BinDirectory, tool);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal) { ["LC_ALL"] = "C", ["LANG"] = "C" };
        return _runAs is null
            ? ProcessRunner.RunAsync(path, arguments, _options.StartTimeout, environment, cancellationToken)
            : ProcessRunner.RunAsync(_runAs.Program, [.. _runAs.Arguments, path, .. arguments], _options.StartTimeout, environment, cancellationToken);
    }

    /// <summary>Runs the PostgreSQL tools as an unprivileged user when this process is root.</summary>
    private sealed class RootRunner
    {
        private const string RootSetting = "PostgresLocalServerOptions.RootRunAsUser";

        private RootRunner(string user, string program, string[] arguments, string prefix)
        {
            User = user;
            Program = program;
            Arguments = arguments;
            Prefix = prefix;
        }

        public string User { get; }

        public string Program { get; }

        public string[] Arguments { get; }

        /// <summary>How the watchdog script runs pg_ctl: <c>runuser:USER</c> or <c>setpriv:USER</c>.</summary>
        public string Prefix { get; }

        public static async Task<RootRunner> CreateAsync(string user, CancellationToken cancellationToken)
        {
            var id = await ProcessRunner.RunAsync("id", ["-u", user], TimeSpan.FromSeconds(10), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (id.ExitCode != 0)
            {
                throw new DeflakeConfigurationException(RootSetting,
                    $"this process runs as root, which PostgreSQL refuses, and there is no '{user}' user to run it as; create one (useradd --system --user-group {user}), run the tests as a non-root user, or set DEFLAKE_POSTGRES to an existing server.");
            }

            var runuser = File.Exists("/usr/sbin/runuser") ? "/usr/sbin/runuser" : ProcessRunner.FindOnPath("runuser");
            if (runuser is not null)
            {
                return new RootRunner(user, runuser, ["-u", user, "--"], "runuser:" + user);
            }

            var setpriv = File.Exists("/usr/bin/setpriv") ? "/usr/bin/setpriv" : ProcessRunner.FindOnPath("setpriv");
            if (setpriv is not null)
            {
                return new RootRunner(user, setpriv, [$"--reuid={user}", $"--regid={user}", "--init-groups", "--"], "setpriv:" + user);
            }

            throw new DeflakeConfigurationException(RootSetting,
                $"this process runs as root, which PostgreSQL refuses, and neither runuser nor setpriv (util-linux) is installed to run it as '{user}'; install util-linux, run the tests as a non-root user, or set DEFLAKE_POSTGRES.");
        }

        public async Task ChownAsync(string directory, string setting, string fix, CancellationToken cancellationToken)
        {
            var result = await ProcessRunner.RunAsync("chown", [$"{User}:", directory], TimeSpan.FromSeconds(10), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw new DeflakeConfigurationException(setting, $"could not give '{directory}' to the '{User}' user ({result.FirstErrorLine()}); {fix}.");
            }
        }

        public async Task CheckCanWriteAsync(string directory, string setting, string fix, CancellationToken cancellationToken)
        {
            var result = await ProcessRunner.RunAsync(Program, [.. Arguments, "test", "-w", directory], TimeSpan.FromSeconds(10), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw new DeflakeConfigurationException(setting, $"the '{User}' user cannot reach '{directory}' (a parent folder is private to root); {fix}.");
            }
        }
    }

    // The idle watchdog (see LocalServerStart.WatchdogScript). Runs as the current user; pg_ctl runs as the
    // unprivileged user when that is root.
    private static readonly string WatchdogScript = LocalServerStart.WatchdogScript(
        """
        #!/bin/sh
        # Deflake idle watchdog for the throwaway PostgreSQL server (safe to kill; it is restarted with the server).
        bindir=$1; dir=$2; lock=$3; idle=$4; interval=$5; runas=$6; data=${7:-$dir/data}
        echo $$ > "$dir/watchdog.pid"
        pgctl() {
          case "$runas" in
            runuser:*) runuser -u "${runas#runuser:}" -- "$bindir/pg_ctl" "$@" ;;
            setpriv:*) u=${runas#setpriv:}; setpriv --reuid="$u" --regid="$u" --init-groups -- "$bindir/pg_ctl" "$@" ;;
            *) "$bindir/pg_ctl" "$@" ;;
          esac
        }
        clients() {
          "$bindir/psql" -X -A -t -q -h "$dir" -p 5432 -U deflake -d postgres \
            -c "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()" 2>/dev/null || echo busy
        }
        """,
        "[ -e \"$data/postmaster.pid\" ]",
        "pgctl stop -w -m fast -D \"$data\"");
}
