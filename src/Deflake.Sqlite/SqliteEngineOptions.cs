namespace Deflake.Sqlite;

/// <summary>Where SQLite clones live.</summary>
public enum SqliteCloneMode
{
    /// <summary>
    /// A file per test (the default): any code can open it from the connection string, including another process.
    /// </summary>
    File,

    /// <summary>
    /// An in-memory database per test, shared by name within this process (fastest). Only connections opened in
    /// this process reach it, and only while the test database is alive.
    /// </summary>
    Memory,
}

/// <summary>Options of <see cref="SqliteEngine"/>; every default is safe.</summary>
public sealed class SqliteEngineOptions
{
    /// <summary>File clones (default) or in-memory clones.</summary>
    public SqliteCloneMode CloneMode { get; set; } = SqliteCloneMode.File;

    /// <summary>
    /// Root directory for templates, clones and kept databases. Default: <c>sqlite</c> under
    /// <see cref="DeflakeEnvironment.GetCacheDirectory"/> (<c>DEFLAKE_CACHE_DIR</c>, else the per-user cache).
    /// </summary>
    public string? Directory { get; set; }

    /// <summary>How long to wait for another process that is building the same template. Default 5 minutes.</summary>
    public TimeSpan TemplateBuildTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// When a pool starts, template files of the same lineage as its own (same schema source and chaos modes, any
    /// schema version, Deflake build or seed) are superseded: the pool keeps this many of them, the most recently used,
    /// and deletes the others that no live pool (in any process) uses. Default 2 (switching between a couple of branches
    /// rebuilds nothing); 0 deletes every unused superseded template; null keeps them (templates unused for 7 days still go).
    /// </summary>
    public int? KeepSupersededTemplates { get; set; } = 2;

    internal void Validate()
    {
        if (!Enum.IsDefined(CloneMode))
        {
            throw new DeflakeConfigurationException("SqliteEngineOptions.CloneMode", $"'{CloneMode}' is not a clone mode; use File or Memory.");
        }

        if (Directory is not null && string.IsNullOrWhiteSpace(Directory))
        {
            throw new DeflakeConfigurationException("SqliteEngineOptions.Directory", "is blank; leave it null for the per-user cache or give a writable folder.");
        }

        if (TemplateBuildTimeout <= TimeSpan.Zero)
        {
            throw new DeflakeConfigurationException("SqliteEngineOptions.TemplateBuildTimeout", $"is {TemplateBuildTimeout}; use a positive duration.");
        }

        if (KeepSupersededTemplates is < 0)
        {
            throw new DeflakeConfigurationException("SqliteEngineOptions.KeepSupersededTemplates",
                $"is {KeepSupersededTemplates}; use 0 or more (the default 2 keeps the two most recently used), or null to keep superseded templates.");
        }
    }
}
