using MySql.Data.MySqlClient;

namespace Deflake.MariaDb;

/// <summary>How <see cref="MariaDbEngine"/> reaches its server. Every default is safe.</summary>
public sealed class MariaDbEngineOptions
{
    /// <summary>
    /// Admin connection string of a MariaDB or MySQL server (a user that may create and drop databases and use
    /// <c>GET_LOCK</c>). Default null: <c>DEFLAKE_MARIADB</c> when set, otherwise a throwaway local server
    /// (<see cref="LocalServer"/>).
    /// </summary>
    public string? AdminConnectionString { get; set; }

    /// <summary>How to start the throwaway server when no connection string is given. Default: its own defaults.</summary>
    public MariaDbLocalServerOptions LocalServer { get; set; } = new();

    /// <summary>How long to wait for another process (or machine) that is building the same template. Default 10 minutes.</summary>
    public TimeSpan TemplateWaitTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Templates are a cache kept across runs; orphan collection drops those no pool has used for this long.
    /// Default 7 days; null keeps them forever.
    /// </summary>
    public TimeSpan? DropTemplatesUnusedFor { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// When a pool starts, templates of the same lineage as its own (same schema source name and chaos modes, any
    /// schema version, Deflake build or seed) are superseded: the pool keeps this many of them, the most recently used,
    /// and drops the others that no live pool uses. Default 2 (switching between a couple of branches rebuilds nothing);
    /// 0 drops every unused superseded template; null keeps them (only <see cref="DropTemplatesUnusedFor"/> applies).
    /// </summary>
    public int? KeepSupersededTemplates { get; set; } = 2;

    /// <summary>
    /// Restore a returned clone in place (busy sessions ended, idle pooled ones kept and reset by MySql.Data — clones'
    /// connection strings carry <c>ConnectionReset=true</c> — schema compared, the tables whose content checksum moved
    /// refilled from the template, AUTO_INCREMENT counters put back) and hand it out again, instead of dropping it and
    /// cloning anew. Default true: measured side by side on MariaDB 10.11, a test costs about a sixth of a new clone
    /// (docs/recycling.md). False gives every test a new clone; so does <see cref="TestDatabaseOptions.Recycle"/> = false
    /// or <c>DEFLAKE_RECYCLE=0</c>, for every engine.
    /// </summary>
    public bool RestoreClones { get; set; } = true;

    /// <summary>
    /// Whether a restore may keep the app's idle pooled sessions (clones' connection strings carry
    /// <c>ConnectionReset=true</c>); false ends every session at every restore, as on a server without the
    /// <c>metadata_lock_info</c> plugin. Tests turn it off to check that way.
    /// </summary>
    internal bool KeepIdleSessions { get; set; } = true;

    internal ResolvedMariaDbOptions Resolve()
    {
        if (TemplateWaitTimeout < TimeSpan.FromSeconds(1))
        {
            throw new DeflakeConfigurationException("MariaDbEngineOptions.TemplateWaitTimeout", $"is {TemplateWaitTimeout}; use at least 1 second, such as 10 minutes.");
        }

        if (DropTemplatesUnusedFor is { } unused && unused <= TimeSpan.Zero)
        {
            throw new DeflakeConfigurationException("MariaDbEngineOptions.DropTemplatesUnusedFor", $"is {unused}; use a positive duration, or null to keep templates.");
        }

        if (KeepSupersededTemplates is < 0)
        {
            throw new DeflakeConfigurationException("MariaDbEngineOptions.KeepSupersededTemplates",
                $"is {KeepSupersededTemplates}; use 0 or more (the default 2 keeps the two most recently used), or null to keep superseded templates.");
        }

        ArgumentNullException.ThrowIfNull(LocalServer);
        string? setting = null;
        var connectionString = AdminConnectionString;
        if (connectionString is not null)
        {
            setting = "MariaDbEngineOptions.AdminConnectionString";
        }
        else if (Environment.GetEnvironmentVariable(DeflakeEnvironment.MariaDb) is { } fromEnvironment && !string.IsNullOrWhiteSpace(fromEnvironment))
        {
            setting = DeflakeEnvironment.MariaDb;
            connectionString = fromEnvironment;
        }

        MySqlConnectionStringBuilder? builder = null;
        if (setting is not null)
        {
            builder = ParseConnectionString(connectionString!, setting);
        }
        else
        {
            LocalServer.Validate();
        }

        return new ResolvedMariaDbOptions(builder, setting ?? DeflakeEnvironment.MariaDb, LocalServer, TemplateWaitTimeout, DropTemplatesUnusedFor, KeepSupersededTemplates, RestoreClones, KeepIdleSessions);
    }

    internal static MySqlConnectionStringBuilder ParseConnectionString(string connectionString, string setting)
    {
        const string Example = "use the form Server=127.0.0.1;Port=3306;User ID=root;Password=...;SslMode=None (or Server=/path/to/mysqld.sock;Protocol=Unix)";
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new DeflakeConfigurationException(setting, $"is blank; {Example}.");
        }

        MySqlConnectionStringBuilder builder;
        try
        {
            builder = new MySqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException or InvalidOperationException)
        {
            // The driver's message names the bad key; never the connection string, so no password leaks.
            throw new DeflakeConfigurationException(setting, $"is not a valid MariaDB/MySQL connection string ({FirstLine(ex.Message)}); {Example}.", ex);
        }

        if (string.IsNullOrWhiteSpace(builder.Server))
        {
            throw new DeflakeConfigurationException(setting, $"names no Server; {Example}.");
        }

        if (string.IsNullOrWhiteSpace(builder.UserID))
        {
            throw new DeflakeConfigurationException(setting, $"names no User ID; {Example}.");
        }

        return builder;
    }

    internal static string FirstLine(string text)
    {
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? text : text[..end]).Trim();
    }
}

internal sealed record ResolvedMariaDbOptions(
    MySqlConnectionStringBuilder? Admin,
    string Setting,
    MariaDbLocalServerOptions LocalServer,
    TimeSpan TemplateWaitTimeout,
    TimeSpan? DropTemplatesUnusedFor,
    int? KeepSupersededTemplates,
    bool RestoreClones,
    bool KeepIdleSessions);
