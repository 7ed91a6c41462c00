using Microsoft.Extensions.Logging;

namespace Deflake;

/// <summary>
/// How a <see cref="TestDatabasePool"/> builds and hands out databases. Every default is safe; unset values
/// that have an environment variable read it (the <c>deflake</c> command sets them).
/// </summary>
public sealed class TestDatabaseOptions
{
    /// <summary>The schema every test database starts from. Required.</summary>
    public SchemaSource? Schema { get; set; }

    /// <summary>
    /// How many clones to keep ready in the background. Default 0 means "from the CPU count": 2 × cores,
    /// at least 2 and at most 16.
    /// </summary>
    public int PoolSize { get; set; }

    /// <summary>
    /// The most clones this pool lets exist at once (ready, rented and being dropped). Renting waits when the
    /// limit is reached, so a suite never exhausts the server's connections or the disk. Default 0 means
    /// 4 × <see cref="PoolSize"/>, at least 16.
    /// </summary>
    public int MaxDatabases { get; set; }

    /// <summary>
    /// Keep the database of a failed test (one marked with <see cref="TestDatabase.MarkFailed"/>) and report how
    /// to connect to it. Default: <c>DEFLAKE_KEEP_FAILED</c>, else false.
    /// </summary>
    public bool? KeepFailed { get; set; }

    /// <summary>
    /// Recycle returned databases: restore what the test changed to the template's state and hand the database to the
    /// next test under the same name, instead of dropping it and cloning a new one. The engine decides per database
    /// whether it can prove the restore complete (DDL in the test, for example, makes a new clone); a kept database is
    /// never recycled. False: every test gets a brand-new clone. Default: <c>DEFLAKE_RECYCLE</c>, else true.
    /// </summary>
    public bool? Recycle { get; set; }

    /// <summary>How long kept databases live before orphan collection removes them. Default one day.</summary>
    public TimeSpan KeptRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Chaos modes. Default: <c>DEFLAKE_CHAOS</c>, else none.</summary>
    public ChaosModes? Chaos { get; set; }

    /// <summary>Seed for every random choice. Default: <c>DEFLAKE_SEED</c>, else one drawn per process and logged.</summary>
    public int? Seed { get; set; }

    /// <summary>
    /// Remove databases left by crashed Deflake processes when the pool starts, and templates the engine's rules
    /// retire (unused for long, or superseded by the new one and used by no live pool). Default true.
    /// </summary>
    public bool RemoveOrphansOnStart { get; set; } = true;

    /// <summary>Where the pool and engine log. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The clock. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal ResolvedOptions Resolve()
    {
        if (Schema is null)
        {
            throw new DeflakeConfigurationException("TestDatabaseOptions.Schema",
                "is not set; use SchemaSource.FromSqlDirectory(\"migrations\") or SchemaSource.FromDelegate(...).");
        }

        if (PoolSize < 0)
        {
            throw new DeflakeConfigurationException("TestDatabaseOptions.PoolSize", $"is {PoolSize}; use 0 for the default or a positive number.");
        }

        if (MaxDatabases < 0)
        {
            throw new DeflakeConfigurationException("TestDatabaseOptions.MaxDatabases", $"is {MaxDatabases}; use 0 for the default or a positive number.");
        }

        if (KeptRetention <= TimeSpan.Zero)
        {
            throw new DeflakeConfigurationException("TestDatabaseOptions.KeptRetention", $"is {KeptRetention}; use a positive duration such as TimeSpan.FromDays(1).");
        }

        var poolSize = PoolSize > 0 ? PoolSize : Math.Clamp(Environment.ProcessorCount * 2, 2, 16);
        var max = MaxDatabases > 0 ? MaxDatabases : Math.Max(poolSize * 4, 16);
        if (max < poolSize)
        {
            throw new DeflakeConfigurationException("TestDatabaseOptions.MaxDatabases",
                $"is {max}, below PoolSize {poolSize}; raise MaxDatabases or lower PoolSize.");
        }

        return new ResolvedOptions(
            Schema,
            poolSize,
            max,
            KeepFailed ?? DeflakeEnvironment.KeepFailedDatabases,
            Recycle ?? DeflakeEnvironment.RecycleDatabases,
            KeptRetention,
            Chaos ?? DeflakeEnvironment.ChaosModes,
            Seed ?? DeflakeEnvironment.CurrentSeed,
            RemoveOrphansOnStart,
            LoggerFactory,
            TimeProvider ?? TimeProvider.System);
    }
}

internal sealed record ResolvedOptions(
    SchemaSource Schema,
    int PoolSize,
    int MaxDatabases,
    bool KeepFailed,
    bool Recycle,
    TimeSpan KeptRetention,
    ChaosModes Chaos,
    int Seed,
    bool RemoveOrphansOnStart,
    ILoggerFactory? LoggerFactory,
    TimeProvider TimeProvider);
