namespace Deflake.MariaDb;

/// <summary>How <see cref="MariaDbLocalServer"/> finds, creates and runs the throwaway server. Safe defaults for a developer machine and for CI running as root.</summary>
public sealed class MariaDbLocalServerOptions
{
    /// <summary>
    /// Folder holding <c>mariadbd</c> and <c>mariadb-install-db</c> (or <c>mysqld</c> and <c>mysql_install_db</c>).
    /// Default null: <c>DEFLAKE_MARIADB_BIN_DIR</c> when set, else PATH, then <c>/usr/sbin</c>, <c>/usr/bin</c>, <c>/usr/local/bin</c>, <c>/opt/homebrew/bin</c>.
    /// </summary>
    public string? BinDirectory { get; set; }

    /// <summary>
    /// Folder for the server's socket, log, lock file, password and watchdog (a <c>mariadb</c> folder is made in it).
    /// Default null: <see cref="DeflakeEnvironment.GetRuntimeDirectory"/> (<c>DEFLAKE_RUNTIME_DIR</c>).
    /// </summary>
    public string? RuntimeDirectory { get; set; }

    /// <summary>
    /// Where the data lives: <c>auto</c> (default: <c>/dev/shm</c> when it is writable with at least 1 GB free, else
    /// the runtime directory), <c>memory</c> (or fail), <c>disk</c> (the runtime directory).
    /// </summary>
    public string DataDirectory { get; set; } = "auto";

    /// <summary>The in-memory file system <c>auto</c> and <c>memory</c> use (tests replace it).</summary>
    internal string MemoryFileSystem { get; set; } = "/dev/shm";

    /// <summary>Free space the in-memory file system needs: 1 GB (tests replace it).</summary>
    internal long MemoryMinimumFreeBytes { get; set; } = 1L << 30;

    /// <summary>Where to look for binaries when <see cref="BinDirectory"/> is null (tests replace it).</summary>
    internal IReadOnlyList<string>? SearchDirectories { get; set; }

    /// <summary>
    /// The server stops itself after no client has been connected for this long. Default 10 minutes;
    /// <see cref="Timeout.InfiniteTimeSpan"/> keeps it running until <see cref="MariaDbLocalServer.StopAsync"/>.
    /// </summary>
    public TimeSpan IdleShutdown { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long to wait for another process that is starting the server, and for the start itself. Default 2 minutes.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The server's <c>max_connections</c>. Default 300.</summary>
    public int MaxConnections { get; set; } = 300;

    internal void Validate()
    {
        if (BinDirectory is not null && string.IsNullOrWhiteSpace(BinDirectory))
        {
            throw new DeflakeConfigurationException("MariaDbLocalServerOptions.BinDirectory", "is blank; leave it null to search, or set the folder that holds mariadbd.");
        }

        if (RuntimeDirectory is not null && string.IsNullOrWhiteSpace(RuntimeDirectory))
        {
            throw new DeflakeConfigurationException("MariaDbLocalServerOptions.RuntimeDirectory", "is blank; leave it null for the default or set a writable folder.");
        }

        if (DataDirectory is not ("auto" or "memory" or "disk"))
        {
            throw new DeflakeConfigurationException("MariaDbLocalServerOptions.DataDirectory", $"is '{DataDirectory}'; use auto, memory or disk.");
        }

        if (IdleShutdown != Timeout.InfiniteTimeSpan && IdleShutdown < TimeSpan.FromSeconds(1))
        {
            throw new DeflakeConfigurationException("MariaDbLocalServerOptions.IdleShutdown",
                $"is {IdleShutdown}; use at least 1 second, or Timeout.InfiniteTimeSpan to keep the server running.");
        }

        if (StartTimeout < TimeSpan.FromSeconds(1))
        {
            throw new DeflakeConfigurationException("MariaDbLocalServerOptions.StartTimeout", $"is {StartTimeout}; use at least 1 second, such as 2 minutes.");
        }

        if (MaxConnections < 10)
        {
            throw new DeflakeConfigurationException("MariaDbLocalServerOptions.MaxConnections", $"is {MaxConnections}; use at least 10.");
        }
    }
}
