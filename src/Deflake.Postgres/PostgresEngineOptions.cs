using Npgsql;

namespace Deflake.Postgres;

/// <summary>How <c>CREATE DATABASE … TEMPLATE</c> copies the template (PostgreSQL 15 and later).</summary>
public enum PostgresCloneStrategy
{
    /// <summary>
    /// Copy the template's files directly (<c>STRATEGY FILE_COPY</c>, the only way before PostgreSQL 15). Measured
    /// faster for small test templates on the throwaway server, on disk and in memory alike (in memory, 20-table
    /// template, create + drop: about 20 ms against 34 ms for <see cref="WalLog"/> in one session, 15 ms against
    /// 26 ms with two at once), so the default.
    /// </summary>
    FileCopy,

    /// <summary>Copy block by block through the write-ahead log (<c>STRATEGY WAL_LOG</c>, PostgreSQL 15's default).</summary>
    WalLog,
}

/// <summary>How <see cref="PostgresEngine"/> reaches its server and clones templates. Every default is safe.</summary>
public sealed class PostgresEngineOptions
{
    /// <summary>
    /// Admin connection string of the server (a role that may create databases). Default null:
    /// <c>DEFLAKE_POSTGRES</c> when set, otherwise a throwaway local server (<see cref="LocalServer"/>).
    /// </summary>
    public string? AdminConnectionString { get; set; }

    /// <summary>How to start the throwaway server when no connection string is given. Default: its own defaults.</summary>
    public PostgresLocalServerOptions LocalServer { get; set; } = new();

    /// <summary>How clones copy the template. Default <see cref="PostgresCloneStrategy.FileCopy"/> (measured faster).</summary>
    public PostgresCloneStrategy CloneStrategy { get; set; } = PostgresCloneStrategy.FileCopy;

    /// <summary>
    /// How long a clone retries while something else is connected to the template
    /// (SQLSTATE 55006, "source database is being accessed by other users"). Default 10 seconds.
    /// </summary>
    public TimeSpan CloneRetryTimeout { get; set; } = TimeSpan.FromSeconds(10);

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

    internal ResolvedPostgresOptions Resolve()
    {
        if (CloneRetryTimeout < TimeSpan.Zero)
        {
            throw new DeflakeConfigurationException("PostgresEngineOptions.CloneRetryTimeout", $"is {CloneRetryTimeout}; use zero or a positive duration such as 10 seconds.");
        }

        if (TemplateWaitTimeout <= TimeSpan.Zero)
        {
            throw new DeflakeConfigurationException("PostgresEngineOptions.TemplateWaitTimeout", $"is {TemplateWaitTimeout}; use a positive duration such as 10 minutes.");
        }

        if (DropTemplatesUnusedFor is { } unused && unused <= TimeSpan.Zero)
        {
            throw new DeflakeConfigurationException("PostgresEngineOptions.DropTemplatesUnusedFor", $"is {unused}; use a positive duration, or null to keep templates.");
        }

        if (KeepSupersededTemplates is < 0)
        {
            throw new DeflakeConfigurationException("PostgresEngineOptions.KeepSupersededTemplates",
                $"is {KeepSupersededTemplates}; use 0 or more (the default 2 keeps the two most recently used), or null to keep superseded templates.");
        }

        if (!Enum.IsDefined(CloneStrategy))
        {
            throw new DeflakeConfigurationException("PostgresEngineOptions.CloneStrategy", $"is {(int)CloneStrategy}; use FileCopy or WalLog.");
        }

        ArgumentNullException.ThrowIfNull(LocalServer);
        string? setting = null;
        var connectionString = AdminConnectionString;
        if (connectionString is not null)
        {
            setting = "PostgresEngineOptions.AdminConnectionString";
        }
        else if (Environment.GetEnvironmentVariable(DeflakeEnvironment.Postgres) is { } fromEnvironment && !string.IsNullOrWhiteSpace(fromEnvironment))
        {
            setting = DeflakeEnvironment.Postgres;
            connectionString = fromEnvironment;
        }

        NpgsqlConnectionStringBuilder? builder = null;
        if (setting is not null)
        {
            builder = ParseConnectionString(connectionString!, setting);
        }
        else
        {
            LocalServer.Validate();
        }

        return new ResolvedPostgresOptions(builder, setting ?? DeflakeEnvironment.Postgres, LocalServer, CloneStrategy, CloneRetryTimeout, TemplateWaitTimeout, DropTemplatesUnusedFor, KeepSupersededTemplates);
    }

    internal static NpgsqlConnectionStringBuilder ParseConnectionString(string connectionString, string setting)
    {
        const string Example = "use the form Host=localhost;Port=5432;Username=postgres;Password=...";
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new DeflakeConfigurationException(setting, $"is blank; {Example}.");
        }

        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            // The driver's message names the bad key, never the value, so no password leaks.
            throw new DeflakeConfigurationException(setting, $"is not a valid PostgreSQL connection string ({FirstLine(ex.Message)}); {Example}.", ex);
        }

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            throw new DeflakeConfigurationException(setting, $"names no Host; {Example}.");
        }

        return builder;
    }

    internal static string FirstLine(string text)
    {
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? text : text[..end]).Trim();
    }
}

internal sealed record ResolvedPostgresOptions(
    NpgsqlConnectionStringBuilder? Admin,
    string Setting,
    PostgresLocalServerOptions LocalServer,
    PostgresCloneStrategy CloneStrategy,
    TimeSpan CloneRetryTimeout,
    TimeSpan TemplateWaitTimeout,
    TimeSpan? DropTemplatesUnusedFor,
    int? KeepSupersededTemplates);
