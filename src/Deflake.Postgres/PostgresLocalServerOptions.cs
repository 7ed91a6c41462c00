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
    /// Folder for the server's data, socket and lock file (a <c>postgres-MAJOR</c> folder is made in it).
    /// Default null: <see cref="DeflakeEnvironment.GetRuntimeDirectory"/> (<c>DEFLAKE_RUNTIME_DIR</c>).
    /// </summary>
    public string? RuntimeDirectory { get; set; }

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
}
