using System.Data.Common;
using Microsoft.Extensions.Logging;

namespace Deflake;

/// <summary>
/// A database engine that can build templates and clone them. Implementations live in their own packages
/// (<c>Deflake.Sqlite</c>, <c>Deflake.Postgres</c>); a pool owns its engine and disposes it.
/// </summary>
/// <remarks>
/// Every database or file an engine creates must be recognisable as Deflake's and record its owner, so that
/// <see cref="RemoveOrphansAsync"/> removes only what crashed Deflake processes left behind and never anything else.
/// </remarks>
public interface IDatabaseEngine : IAsyncDisposable
{
    /// <summary>Short engine id used in names, fingerprints and reports: <c>sqlite</c>, <c>postgres</c>.</summary>
    string Kind { get; }

    /// <summary>
    /// Connects to (or starts) the server, registers this process as an owner, and returns the server version,
    /// which goes into template fingerprints. Called once by the pool before anything else.
    /// </summary>
    Task<string> StartAsync(EngineContext context, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns the template for <paramref name="request"/>, building it if it does not exist yet. Exactly one
    /// builder per fingerprint across threads and processes; the others wait. A half-built template is never used.
    /// </summary>
    Task<EngineTemplate> EnsureTemplateAsync(TemplateRequest request, CancellationToken cancellationToken = default);

    /// <summary>Creates a new database from the template, owned by this process.</summary>
    Task<EngineDatabase> CreateCloneAsync(EngineTemplate source, CancellationToken cancellationToken = default);

    /// <summary>Drops a clone this engine created. Terminates its connections first.</summary>
    Task DropCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default);

    /// <summary>
    /// Keeps a clone after this process ends (a failed test's database), detached from the owner so orphan
    /// collection leaves it alone until it is older than the retention period. Returns how to connect, without password.
    /// </summary>
    Task<string> KeepCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default);

    /// <summary>Creates (does not open) a connection to a clone, configured with the chaos in effect.</summary>
    DbConnection CreateConnection(EngineDatabase database);

    /// <summary>
    /// Removes databases and files whose owning process is gone, and kept databases older than
    /// <paramref name="keptRetention"/>. Never touches anything Deflake did not create. Returns how many were removed.
    /// </summary>
    Task<int> RemoveOrphansAsync(TimeSpan keptRetention, CancellationToken cancellationToken = default);

    /// <summary>
    /// Drops templates superseded by <paramref name="current"/>: those of the same <see cref="TemplateRequest.Lineage"/>
    /// beyond the few most recently used that no live pool (in any process) uses. Called by the pool right after
    /// <see cref="EnsureTemplateAsync"/> when it collects orphans; never drops the current template, a template of another
    /// lineage or without one, or anything Deflake did not create. Returns how many were dropped. The default does nothing
    /// (for engines that cannot tell which templates live pools use; SQLite, PostgreSQL and MariaDB implement it).
    /// </summary>
    Task<int> RemoveSupersededTemplatesAsync(TemplateRequest current, CancellationToken cancellationToken = default) => Task.FromResult(0);

    /// <summary>
    /// Restores a returned clone in place to exactly the template's state (every table's rows, every sequence, the
    /// schema) so the pool can hand it out again under the same name, with the driver's pooled connections and type
    /// cache for its connection string still warm. Returns <see cref="RestoreResult.NotRestored"/> with the reason
    /// whenever it cannot prove the restore complete (DDL in the test, objects it does not track, a template it cannot
    /// track): the pool then drops the clone and makes a new one. Must leave no session of the test able to affect the
    /// next user. Called only for clones this engine created and that no test holds. The default never restores.
    /// </summary>
    Task<RestoreResult> RestoreCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default)
        => Task.FromResult(RestoreResult.NotRestored($"the {Kind} engine does not restore databases in place"));

    /// <summary>
    /// Whether <see cref="RestoreCloneAsync"/> can restore at all. False (the default): the pool never asks, and gives every
    /// test a new clone as it would with recycling off. PostgreSQL implements it.
    /// </summary>
    bool RestoresClones => false;

    /// <summary>
    /// The ADO.NET provider whose connections <see cref="SchemaSource.ApplyAsync"/> receives (for example
    /// <c>SqliteFactory.Instance</c>). The pool hands it to <see cref="SchemaSource.ComputeFingerprintAsync(SchemaContext, CancellationToken)"/>
    /// through <see cref="SchemaContext.ProviderFactory"/>, so a source can compute its digest on an unopened connection
    /// of the right provider before the template exists (the EF Core source renders its migrations' SQL that way).
    /// The default is null: sources that need a provider then refuse the engine with a one-line error.
    /// SQLite, PostgreSQL and MariaDB implement it.
    /// </summary>
    DbProviderFactory? ProviderFactory => null;
}

/// <summary>What the pool tells its engine when it starts.</summary>
public sealed class EngineContext
{
    /// <summary>Creates a context.</summary>
    public EngineContext(ILogger logger, TimeProvider timeProvider, ChaosModes chaos, int seed)
    {
        Logger = logger;
        TimeProvider = timeProvider;
        Chaos = chaos;
        Seed = seed;
    }

    /// <summary>Where the engine logs.</summary>
    public ILogger Logger { get; }

    /// <summary>Clock for timeouts and ages.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>Chaos modes in effect for this pool.</summary>
    public ChaosModes Chaos { get; }

    /// <summary>Seed for every random choice the engine makes.</summary>
    public int Seed { get; }
}

/// <summary>What to build a template from.</summary>
public sealed class TemplateRequest
{
    /// <summary>Creates a request.</summary>
    public TemplateRequest(string fingerprint, SchemaSource schema, ChaosModes chaos, int seed)
    {
        Fingerprint = fingerprint;
        Schema = schema;
        Chaos = chaos;
        Seed = seed;
    }

    /// <summary>Hex fingerprint; the template's name derives from it.</summary>
    public string Fingerprint { get; }

    /// <summary>The schema to apply to the empty template.</summary>
    public SchemaSource Schema { get; }

    /// <summary>Chaos modes in effect; those that live in the template (identities) are applied while building.</summary>
    public ChaosModes Chaos { get; }

    /// <summary>Seed for chaos choices made in the template.</summary>
    public int Seed { get; }

    /// <summary>
    /// What every new version of "the same" template shares (see <see cref="Deflake.Fingerprint.ComputeLineage"/>): engine kind,
    /// schema source name and chaos modes without the seed, as short hex. Engines record it with the template so a newer
    /// one can supersede older ones (<see cref="IDatabaseEngine.RemoveSupersededTemplatesAsync"/>). Null: never superseded.
    /// </summary>
    public string? Lineage { get; init; }
}

/// <summary>A built template, ready to clone.</summary>
/// <param name="Name">Engine-specific name (database name or file path).</param>
/// <param name="Fingerprint">The fingerprint it was built for.</param>
/// <param name="WasBuilt">True when this call built it, false when it already existed.</param>
public sealed record EngineTemplate(string Name, string Fingerprint, bool WasBuilt)
{
    /// <summary>
    /// Under <see cref="ChaosModes.Identities"/>: the keys the template's identity ranges do not cover (empty when every
    /// key is covered or identities is off). Known whether this call built the template or reused it; the pool reports
    /// them to whoever started the test process (<see cref="DeflakeEnvironment.Activity"/>).
    /// </summary>
    public IReadOnlyList<NotCoveredKey> IdentitiesNotCovered { get; init; } = [];
}

/// <summary>A clone created by an engine.</summary>
/// <param name="Name">Database name (or file name) of the clone.</param>
/// <param name="ConnectionString">How to connect to it.</param>
/// <param name="State">Engine-private state (for example an open connection that keeps an in-memory database alive).</param>
public sealed record EngineDatabase(string Name, string ConnectionString, object? State = null);

/// <summary>What <see cref="IDatabaseEngine.RestoreCloneAsync"/> did with a returned clone.</summary>
public sealed class RestoreResult
{
    private RestoreResult(bool restored, string? reason)
    {
        Restored = restored;
        Reason = reason;
    }

    /// <summary>The clone is back in the template's state and may be rented again.</summary>
    public static RestoreResult Success { get; } = new(true, null);

    /// <summary>True when the clone was restored.</summary>
    public bool Restored { get; }

    /// <summary>Why the clone could not be restored (logged at debug level by the pool); null when it was.</summary>
    public string? Reason { get; }

    /// <summary>The clone could not be restored, for <paramref name="reason"/>; the pool drops it and makes another.</summary>
    public static RestoreResult NotRestored(string reason) => new(false, reason);
}
