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

    /// <summary>
    /// Where file clones (<see cref="SqliteCloneMode.File"/>) live; templates and kept databases stay in
    /// <see cref="Directory"/>. A clone is disposable and belongs to one process, so it may live where a commit costs
    /// no disk flush (SQLite syncs every commit to disk, which on a real disk is most of a small test's time):
    /// <list type="bullet">
    /// <item><c>auto</c>: in memory (<c>/dev/shm/deflake-USER/sqlite-HASH/clones</c>, Linux) when that is a writable
    /// file system of this user's with at least 256 MB free, else on disk in <see cref="Directory"/> (<c>clones</c>);
    /// the pool logs where and why. A commit there is a memory write.</item>
    /// <item><c>memory</c>: in memory, or fail with <see cref="DeflakeConfigurationException"/> when that is not possible.</item>
    /// <item><c>disk</c>: in <see cref="Directory"/> (<c>clones</c>), as Deflake did before memory was the default.</item>
    /// <item>an absolute folder: a <c>sqlite-HASH/clones</c> folder is made in it (a RAM disk elsewhere, a fast local disk).</item>
    /// </list>
    /// HASH names <see cref="Directory"/>, so engines of different directories never collect each other's clones.
    /// Default null: <c>DEFLAKE_SQLITE_CLONE_DIR</c>, else <c>auto</c>. Clones any process opens from the connection
    /// string are the same files, so the app's own connections commit to memory too.
    /// </summary>
    public string? CloneDirectory { get; set; }

    /// <summary>The in-memory file system <c>auto</c> and <c>memory</c> use (tests replace it).</summary>
    internal string MemoryFileSystem { get; set; } = "/dev/shm";

    /// <summary>Free space the in-memory file system needs for <c>auto</c> and <c>memory</c> to use it: 256 MB (tests replace it).</summary>
    internal long MemoryMinimumFreeBytes { get; set; } = 256L << 20;

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

        _ = ResolveCloneLocation();

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

    /// <summary>Reads <see cref="CloneDirectory"/>, else <c>DEFLAKE_SQLITE_CLONE_DIR</c>; throws naming whichever is wrong.</summary>
    internal CloneLocation ResolveCloneLocation()
    {
        var (setting, text) = CloneDirectory is not null
            ? ("SqliteEngineOptions.CloneDirectory", CloneDirectory)
            : (DeflakeEnvironment.SqliteCloneDirectory, Environment.GetEnvironmentVariable(DeflakeEnvironment.SqliteCloneDirectory));
        var value = text?.Trim();
        if (CloneDirectory is null && string.IsNullOrEmpty(value))
        {
            return new CloneLocation(CloneLocationKind.Auto, null, setting);
        }

        const string Fix = "use auto, memory, disk, or an absolute folder such as /mnt/ramdisk";
        if (string.IsNullOrEmpty(value))
        {
            throw new DeflakeConfigurationException(setting, $"is blank; {Fix} (or leave it unset for auto).");
        }

        if (value.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            return new CloneLocation(CloneLocationKind.Auto, null, setting);
        }

        if (value.Equals("memory", StringComparison.OrdinalIgnoreCase))
        {
            return new CloneLocation(CloneLocationKind.Memory, null, setting);
        }

        if (value.Equals("disk", StringComparison.OrdinalIgnoreCase))
        {
            return new CloneLocation(CloneLocationKind.Disk, null, setting);
        }

        if (!Path.IsPathFullyQualified(value))
        {
            throw new DeflakeConfigurationException(setting, $"'{value}' is neither a keyword nor an absolute folder; {Fix}.");
        }

        return new CloneLocation(CloneLocationKind.Folder, Path.GetFullPath(value), setting);
    }
}

internal enum CloneLocationKind
{
    Auto,
    Memory,
    Disk,
    Folder,
}

/// <summary>A resolved clone location setting, and the setting's name for error messages.</summary>
internal sealed record CloneLocation(CloneLocationKind Kind, string? Folder, string Setting);
