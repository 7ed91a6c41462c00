using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Deflake.Coordination;
using Deflake.Postgres.Internal;
using Npgsql;

namespace Deflake.Postgres;

/// <summary>
/// A throwaway PostgreSQL server made from the binaries installed on this machine, shared by every test process of
/// this user: the first process creates and starts it, the others attach. It listens only on a Unix socket in the
/// runtime directory, is tuned for tests (no fsync), and stops itself once no client has been connected for
/// <see cref="PostgresLocalServerOptions.IdleShutdown"/>. When this process runs as root, the PostgreSQL tools run as
/// the unprivileged <c>postgres</c> user.
/// </summary>
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
    private readonly PostgresLocalServerOptions _options;
    private readonly RootRunner? _runAs;

    private PostgresLocalServer(PostgresLocalServerOptions options, string binDirectory, int majorVersion, string serverDirectory, string lockPath, RootRunner? runAs)
    {
        _options = options;
        BinDirectory = binDirectory;
        MajorVersion = majorVersion;
        ServerDirectory = serverDirectory;
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

    /// <summary>Folder holding the socket, the log (<c>server.log</c>) and the data folder (<c>data</c>).</summary>
    public string ServerDirectory { get; }

    /// <summary>The data folder.</summary>
    public string DataDirectory => Path.Combine(ServerDirectory, "data");

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
        var binDirectory = await FindBinariesAsync(options.BinDirectory, cancellationToken).ConfigureAwait(false);
        var major = await ReadMajorVersionAsync(binDirectory, cancellationToken).ConfigureAwait(false);
        var runAs = Environment.IsPrivilegedProcess ? await RootRunner.CreateAsync(options.RootRunAsUser, cancellationToken).ConfigureAwait(false) : null;

        var runtime = Path.GetFullPath(options.RuntimeDirectory ?? DeflakeEnvironment.GetRuntimeDirectory());
        Directory.CreateDirectory(runtime);
        var serverDirectory = Path.Combine(runtime, $"postgres-{major}");
        var socketPath = Path.Combine(serverDirectory, $".s.PGSQL.{Port}");
        if (Encoding.UTF8.GetByteCount(socketPath) > 107)
        {
            throw new DeflakeConfigurationException(DeflakeEnvironment.RuntimeDirectory,
                $"'{runtime}' is too long for a Unix socket path ({socketPath.Length} > 107 bytes); set DEFLAKE_RUNTIME_DIR to a shorter folder such as /tmp/deflake.");
        }

        var server = new PostgresLocalServer(options, binDirectory, major, serverDirectory, Path.Combine(runtime, $"postgres-{major}.lock"), runAs);
        await server.StartOrAttachAsync(cancellationToken).ConfigureAwait(false);
        return server;
    }

    private async Task StartOrAttachAsync(CancellationToken cancellationToken)
    {
        CrossProcessLock gate;
        try
        {
            gate = await CrossProcessLock.AcquireAsync(LockPath, _options.StartTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new DeflakeConfigurationException("PostgresLocalServerOptions.StartTimeout",
                $"another process has been starting the throwaway server for over {_options.StartTimeout.TotalSeconds:0} s (lock '{LockPath}'); see {LogFile} or set DEFLAKE_POSTGRES.", ex);
        }

        await using (gate.ConfigureAwait(false))
        {
            gate.WriteNote($"pid {Environment.ProcessId} on {Environment.MachineName}");
            if (!await IsRunningAsync(cancellationToken).ConfigureAwait(false))
            {
                PrepareServerDirectory();
                if (!File.Exists(Path.Combine(DataDirectory, "PG_VERSION")))
                {
                    await InitializeAsync(cancellationToken).ConfigureAwait(false);
                }

                await StartServerAsync(cancellationToken).ConfigureAwait(false);
                WasStarted = true;
                await StartWatchdogAsync(cancellationToken).ConfigureAwait(false);
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

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var staging = Path.Combine(ServerDirectory, "data.tmp");
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        if (_runAs is not null)
        {
            await _runAs.ChownAsync(ServerDirectory, cancellationToken).ConfigureAwait(false);
            await _runAs.CheckCanWriteAsync(ServerDirectory, cancellationToken).ConfigureAwait(false);
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
            "# Deflake throwaway server: tuned for tests, its data is disposable.",
            "listen_addresses = ''",
            $"port = {Port}",
            $"unix_socket_directories = '{ServerDirectory.Replace("'", "''", StringComparison.Ordinal)}'",
            $"max_connections = {_options.MaxConnections.ToString(CultureInfo.InvariantCulture)}",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "wal_level = minimal",
            "max_wal_senders = 0",
            "max_wal_size = 1GB",
            "checkpoint_timeout = 30min",
            "autovacuum = off",
            "log_min_messages = warning",
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
                idle.ToString(CultureInfo.InvariantCulture), interval.ToString(CultureInfo.InvariantCulture), _runAs?.Prefix ?? ""],
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

    internal static async Task<string> FindBinariesAsync(string? configured, CancellationToken cancellationToken)
    {
        static bool HasTools(string? directory) => directory is not null
            && File.Exists(Path.Combine(directory, "initdb")) && File.Exists(Path.Combine(directory, "pg_ctl")) && File.Exists(Path.Combine(directory, "postgres"));

        if (configured is not null)
        {
            var full = Path.GetFullPath(configured);
            return HasTools(full)
                ? full
                : throw new DeflakeConfigurationException("PostgresLocalServerOptions.BinDirectory",
                    $"'{full}' does not hold initdb, pg_ctl and postgres; point it at PostgreSQL's bin folder (pg_config --bindir prints it).");
        }

        var looked = new List<string>();
        var pgConfig = ProcessRunner.FindOnPath("pg_config");
        looked.Add("pg_config --bindir");
        if (pgConfig is not null)
        {
            try
            {
                var result = await ProcessRunner.RunAsync(pgConfig, ["--bindir"], TimeSpan.FromSeconds(10), cancellationToken: cancellationToken).ConfigureAwait(false);
                var bindir = result.Output.Trim();
                if (result.ExitCode == 0 && HasTools(bindir))
                {
                    return bindir;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }

        looked.Add("PATH");
        var initdb = ProcessRunner.FindOnPath("initdb");
        if (initdb is not null && HasTools(Path.GetDirectoryName(initdb)))
        {
            return Path.GetDirectoryName(initdb)!;
        }

        foreach (var (root, pattern) in new[] { ("/usr/lib/postgresql", "*"), ("/usr", "pgsql-*"), ("/opt/homebrew/opt", "postgresql@*"), ("/usr/local/opt", "postgresql@*") })
        {
            looked.Add(Path.Combine(root, pattern, "bin"));
            if (!Directory.Exists(root))
            {
                continue;
            }

            var best = Directory.GetDirectories(root, pattern)
                .Select(d => (Directory: Path.Combine(d, "bin"), Version: VersionOf(Path.GetFileName(d))))
                .Where(c => c.Version > 0 && HasTools(c.Directory))
                .OrderByDescending(c => c.Version)
                .FirstOrDefault();
            if (best.Directory is not null)
            {
                return best.Directory;
            }
        }

        throw new DeflakeConfigurationException(Setting,
            $"no PostgreSQL binaries found (looked in: {string.Join(", ", looked)}); install PostgreSQL (apt-get install postgresql), set PostgresLocalServerOptions.BinDirectory, or set DEFLAKE_POSTGRES to an existing server's admin connection string.");
    }

    private static double VersionOf(string name)
    {
        var match = VersionPattern().Match(name);
        return match.Success ? double.Parse(match.Value, CultureInfo.InvariantCulture) : 0;
    }

    private static async Task<int> ReadMajorVersionAsync(string binDirectory, CancellationToken cancellationToken)
    {
        var result = await ProcessRunner.RunAsync(Path.Combine(binDirectory, "pg_ctl"), ["--version"], TimeSpan.FromSeconds(10), cancellationToken: cancellationToken).ConfigureAwait(false);
        var match = VersionPattern().Match(result.Output);
        if (result.ExitCode != 0 || !match.Success)
        {
            throw new DeflakeConfigurationException("PostgresLocalServerOptions.BinDirectory",
                $"'{binDirectory}/pg_ctl --version' did not print a version ({result.FirstErrorLine()}); point BinDirectory at a working PostgreSQL installation.");
        }

        return (int)Math.Floor(double.Parse(match.Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"\d+(\.\d+)?")]
    private static partial Regex VersionPattern();

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

        public async Task ChownAsync(string directory, CancellationToken cancellationToken)
        {
            var result = await ProcessRunner.RunAsync("chown", [$"{User}:", directory], TimeSpan.FromSeconds(10), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw new DeflakeConfigurationException(DeflakeEnvironment.RuntimeDirectory,
                    $"could not give '{directory}' to the '{User}' user ({result.FirstErrorLine()}); set DEFLAKE_RUNTIME_DIR to a local folder such as /tmp/deflake.");
            }
        }

        public async Task CheckCanWriteAsync(string directory, CancellationToken cancellationToken)
        {
            var result = await ProcessRunner.RunAsync(Program, [.. Arguments, "test", "-w", directory], TimeSpan.FromSeconds(10), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw new DeflakeConfigurationException(DeflakeEnvironment.RuntimeDirectory,
                    $"the '{User}' user cannot reach '{directory}' (a parent folder is private to root); set DEFLAKE_RUNTIME_DIR to a folder it can reach, such as /tmp/deflake.");
            }
        }
    }

    // Stops the server once no client has been connected for IDLE seconds. Runs detached as the current user;
    // pg_ctl runs as the unprivileged user when that is root. Stopping happens under the same flock the .NET side
    // takes to start or attach, and only when nobody attached within the idle period either, so a process that has
    // just attached (and is about to connect) never loses its server.
    private const string WatchdogScript = """
        #!/bin/sh
        # Deflake idle watchdog for the throwaway PostgreSQL server (safe to kill; it is restarted with the server).
        bindir=$1; dir=$2; lock=$3; idle=$4; interval=$5; runas=$6
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
        attached() { stat -c %Y "$dir/attached" 2>/dev/null || echo 0; }
        last=$(date +%s)
        while sleep "$interval"; do
          [ "$(cat "$dir/watchdog.pid" 2>/dev/null)" = "$$" ] || exit 0
          [ -e "$dir/data/postmaster.pid" ] || exit 0
          now=$(date +%s)
          if [ "$(clients)" != "0" ]; then last=$now; continue; fi
          a=$(attached); [ "$a" -gt "$last" ] && last=$a
          [ $((now - last)) -ge "$idle" ] || continue
          if (
            flock -n 9 || exit 1
            [ "$(clients)" = "0" ] || exit 1
            [ $(( $(date +%s) - $(attached) )) -ge "$idle" ] || exit 1
            pgctl stop -w -m fast -D "$dir/data" >/dev/null 2>&1
          ) 9>>"$lock"; then
            rm -f "$dir/watchdog.pid"
            exit 0
          fi
        done
        """;
}
