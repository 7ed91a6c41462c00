namespace Deflake.Postgres;

/// <summary>
/// How <see cref="PostgresLocalServer"/> finds, creates and runs the throwaway server. Every default is safe for a
/// developer machine and for CI running as root.
/// </summary>
public sealed class PostgresLocalServerOptions
{
    /// <summary>
    /// Folder holding <c>initdb</c>, <c>pg_ctl</c> and <c>postgres</c>. Default null: <c>pg_config --bindir</c>, then PATH,
    /// then the highest version under <c>/usr/lib/postgresql/*/bin</c> (Debian, Ubuntu) and <c>/usr/pgsql-*/bin</c> (RHEL).
    /// </summary>
    public string? BinDirectory { get; set; }

    /// <summary>
    /// Folder for the server's socket, log, lock file and watchdog (a <c>postgres-MAJOR</c> folder is made in it), and for
    /// its data when that is kept on disk (see <see cref="DataDirectory"/>).
    /// Default null: <see cref="DeflakeEnvironment.GetRuntimeDirectory"/> (<c>DEFLAKE_RUNTIME_DIR</c>).
    /// </summary>
    public string? RuntimeDirectory { get; set; }

    /// <summary>
    /// Where the server keeps its data (the databases, their templates and the write-ahead log):
    /// <list type="bullet">
    /// <item><c>auto</c>: in memory (<c>/dev/shm/deflake-USER/postgres-MAJOR-HASH/data</c>, Linux) when that is a
    /// writable file system with at least 1 GB free, else on disk in the runtime directory. About 3× faster to
    /// clone and drop databases than on a slow disk. The data is disposable by design: a reboot wipes it and the
    /// next start makes a fresh server (templates are rebuilt once).</item>
    /// <item><c>memory</c>: in memory, or fail with <see cref="DeflakeConfigurationException"/> when that is not possible.</item>
    /// <item><c>disk</c>: in the runtime directory (<c>postgres-MAJOR/data</c>), as Deflake did before memory was the default.</item>
    /// <item>an absolute folder: a <c>postgres-MAJOR-HASH/data</c> folder is made in it (a RAM disk elsewhere, a fast local disk).</item>
    /// </list>
    /// HASH names the runtime directory, so servers of different runtime directories never share data.
    /// Default null: <c>DEFLAKE_POSTGRES_DATA_DIR</c>, else <c>auto</c>. Applies when the server is (re)started; a
    /// running server keeps its data where it is, and <see cref="PostgresLocalServer.DataDirectory"/> says where.
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>The in-memory file system <c>auto</c> and <c>memory</c> use (tests replace it).</summary>
    internal string MemoryFileSystem { get; set; } = "/dev/shm";

    /// <summary>Free space the in-memory file system needs for <c>auto</c> and <c>memory</c> to use it: 1 GB (tests replace it).</summary>
    internal long MemoryMinimumFreeBytes { get; set; } = 1L << 30;

    /// <summary>
    /// The server stops itself after no client has been connected for this long. Default 10 minutes;
    /// <see cref="Timeout.InfiniteTimeSpan"/> keeps it running until <see cref="PostgresLocalServer.StopAsync"/>.
    /// </summary>
    public TimeSpan IdleShutdown { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The server's <c>max_connections</c>, applied when the data folder is created. Default 200.</summary>
    public int MaxConnections { get; set; } = 200;

    /// <summary>How long to wait for another process that is starting the server, and for the start itself. Default 2 minutes.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The unprivileged user that runs the PostgreSQL tools when this process runs as root (they refuse root).
    /// Default <c>postgres</c>.
    /// </summary>
    public string RootRunAsUser { get; set; } = "postgres";

    internal void Validate()
    {
        if (BinDirectory is not null && string.IsNullOrWhiteSpace(BinDirectory))
        {
            throw new DeflakeConfigurationException("PostgresLocalServerOptions.BinDirectory", "is blank; leave it null to search, or set the folder that holds initdb and pg_ctl.");
        }

        if (RuntimeDirectory is not null && string.IsNullOrWhiteSpace(RuntimeDirectory))
        {
            throw new DeflakeConfigurationException("PostgresLocalServerOptions.RuntimeDirectory", "is blank; leave it null for the default or set a writable folder.");
        }

        _ = ResolveDataLocation();

        if (IdleShutdown != Timeout.InfiniteTimeSpan && IdleShutdown < TimeSpan.FromSeconds(1))
        {
            throw new DeflakeConfigurationException("PostgresLocalServerOptions.IdleShutdown",
                $"is {IdleShutdown}; use at least 1 second, or Timeout.InfiniteTimeSpan to keep the server running.");
        }

        if (MaxConnections is < 10 or > 10_000)
        {
            throw new DeflakeConfigurationException("PostgresLocalServerOptions.MaxConnections", $"is {MaxConnections}; use a number from 10 to 10000.");
        }

        if (StartTimeout <= TimeSpan.Zero)
        {
            throw new DeflakeConfigurationException("PostgresLocalServerOptions.StartTimeout", $"is {StartTimeout}; use a positive duration such as 2 minutes.");
        }

        if (string.IsNullOrWhiteSpace(RootRunAsUser))
        {
            throw new DeflakeConfigurationException("PostgresLocalServerOptions.RootRunAsUser", "is blank; set the unprivileged user that runs PostgreSQL when tests run as root (usually postgres).");
        }
    }

    /// <summary>Reads <see cref="DataDirectory"/>, else <c>DEFLAKE_POSTGRES_DATA_DIR</c>; throws naming whichever is wrong.</summary>
    internal DataLocation ResolveDataLocation()
    {
        var (setting, text) = DataDirectory is not null
            ? ("PostgresLocalServerOptions.DataDirectory", DataDirectory)
            : (DeflakeEnvironment.PostgresDataDirectory, Environment.GetEnvironmentVariable(DeflakeEnvironment.PostgresDataDirectory));
        var value = text?.Trim();
        if (DataDirectory is null && string.IsNullOrEmpty(value))
        {
            return new DataLocation(DataLocationKind.Auto, null, setting);
        }

        const string Fix = "use auto, memory, disk, or an absolute folder such as /mnt/ramdisk";
        if (string.IsNullOrEmpty(value))
        {
            throw new DeflakeConfigurationException(setting, $"is blank; {Fix} (or leave it unset for auto).");
        }

        if (value.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            return new DataLocation(DataLocationKind.Auto, null, setting);
        }

        if (value.Equals("memory", StringComparison.OrdinalIgnoreCase))
        {
            return new DataLocation(DataLocationKind.Memory, null, setting);
        }

        if (value.Equals("disk", StringComparison.OrdinalIgnoreCase))
        {
            return new DataLocation(DataLocationKind.Disk, null, setting);
        }

        if (!Path.IsPathFullyQualified(value))
        {
            throw new DeflakeConfigurationException(setting, $"'{value}' is neither a keyword nor an absolute folder; {Fix}.");
        }

        return new DataLocation(DataLocationKind.Folder, Path.GetFullPath(value), setting);
    }
}

internal enum DataLocationKind
{
    Auto,
    Memory,
    Disk,
    Folder,
}

/// <summary>A resolved data location setting, and the setting's name for error messages.</summary>
internal sealed record DataLocation(DataLocationKind Kind, string? Folder, string Setting);
