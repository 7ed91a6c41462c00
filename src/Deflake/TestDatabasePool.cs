using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Deflake;

/// <summary>
/// Builds a template once per schema fingerprint, keeps clones of it ready in the background, and hands each
/// test its own. Create one per test run (for example in an assembly fixture) and dispose it at the end:
/// disposal removes every database the pool made, except kept ones.
/// </summary>
/// <example>
/// <code>
/// await using var pool = await TestDatabasePool.CreateAsync(new SqliteEngine(),
///     new TestDatabaseOptions { Schema = SchemaSource.FromSqlDirectory("migrations") });
/// await using var database = await pool.RentAsync();
/// await using var connection = await database.OpenConnectionAsync();
/// </code>
/// </example>
public sealed class TestDatabasePool : IAsyncDisposable
{
    private readonly IDatabaseEngine _engine;
    private readonly ResolvedOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<EngineDatabase> _ready = Channel.CreateUnbounded<EngineDatabase>();
    private readonly Channel<EngineDatabase> _returned = Channel.CreateUnbounded<EngineDatabase>(new UnboundedChannelOptions { SingleReader = false });
    private readonly SemaphoreSlim _slots;
    private readonly SemaphoreSlim _demand;
    private long _created;
    private long _recycled;
    private long _dropped;
    private readonly bool _recycle;
    private int _returning;
    /// <summary>Clones asked for (by the pool's start, a renter, or a replacement) and not yet delivered or failed.</summary>
    private int _requested;
    private int _waiting;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, EngineDatabase> _rented = new(StringComparer.Ordinal);
    private Task[] _fillers = [];
    private Task[] _returners = [];
    private int _disposed;
    private int _rentReported;

    private TestDatabasePool(IDatabaseEngine engine, ResolvedOptions options, ILogger logger)
    {
        _engine = engine;
        _options = options;
        _logger = logger;
        _slots = new SemaphoreSlim(options.MaxDatabases, options.MaxDatabases);
        _demand = new SemaphoreSlim(options.PoolSize, int.MaxValue);
        _requested = options.PoolSize;
        _recycle = options.Recycle && engine.RestoresClones;
        Template = null!;
        ServerVersion = string.Empty;
    }

    /// <summary>The engine's kind: <c>sqlite</c>, <c>postgres</c>.</summary>
    public string EngineKind => _engine.Kind;

    /// <summary>The template every clone comes from.</summary>
    public EngineTemplate Template { get; private set; }

    /// <summary>The server version reported by the engine (part of the fingerprint).</summary>
    public string ServerVersion { get; private set; }

    /// <summary>The seed in use: print it so a run can be replayed with <c>DEFLAKE_SEED</c>.</summary>
    public int Seed => _options.Seed;

    /// <summary>The chaos modes in use.</summary>
    public ChaosModes Chaos => _options.Chaos;

    /// <summary>Whether failed tests' databases are kept.</summary>
    public bool KeepFailed => _options.KeepFailed;

    /// <summary>
    /// Whether returned databases are recycled: <see cref="TestDatabaseOptions.Recycle"/> is on and the engine can restore
    /// databases in place (<see cref="IDatabaseEngine.RestoresClones"/>).
    /// </summary>
    public bool Recycle => _recycle;

    /// <summary>What the pool has done so far: clones made, databases recycled, databases dropped.</summary>
    public TestDatabasePoolStatistics Statistics => new(
        Interlocked.Read(ref _created), Interlocked.Read(ref _recycled), Interlocked.Read(ref _dropped));

    /// <summary>
    /// How many databases the start removed: orphans of crashed processes, templates unused for long, and templates
    /// superseded by a newer one of the same lineage that no live pool uses.
    /// </summary>
    public int OrphansRemoved { get; private set; }

    /// <summary>
    /// Starts the engine, removes orphans of crashed processes, builds the template if its fingerprint is new
    /// (once across all processes), and starts filling the pool in the background. The pool owns the engine.
    /// </summary>
    /// <exception cref="DeflakeConfigurationException">An option or the engine's setting is wrong.</exception>
    /// <exception cref="TemplateBuildException">A migration failed.</exception>
    public static async Task<TestDatabasePool> CreateAsync(IDatabaseEngine engine, TestDatabaseOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(options);
        ResolvedOptions resolved;
        try
        {
            resolved = options.Resolve();
        }
        catch
        {
            await engine.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var logger = resolved.LoggerFactory?.CreateLogger<TestDatabasePool>() ?? (ILogger)NullLogger.Instance;
        var pool = new TestDatabasePool(engine, resolved, logger);
        try
        {
            await pool.StartAsync(cancellationToken).ConfigureAwait(false);
            return pool;
        }
        catch
        {
            await pool.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = _options;
        var context = new EngineContext(_logger, o.TimeProvider, o.Chaos, o.Seed);
        ServerVersion = await _engine.StartAsync(context, cancellationToken).ConfigureAwait(false);
        if (o.RemoveOrphansOnStart)
        {
            OrphansRemoved = await _engine.RemoveOrphansAsync(o.KeptRetention, cancellationToken).ConfigureAwait(false);
            if (OrphansRemoved > 0)
            {
                _logger.LogInformation("Deflake removed {Count} orphaned database(s) left by processes that are gone", OrphansRemoved);
            }
        }

        var digest = await o.Schema.ComputeFingerprintAsync(new SchemaContext(_engine.Kind, _engine.ProviderFactory), cancellationToken).ConfigureAwait(false);
        // Identity ranges are drawn from the seed in the template; the rows objects (PostgreSQL views) read the seed
        // per database, so one rows template serves every seed.
        var templateChaos = (o.Chaos.HasFlag(ChaosModes.Identities), o.Chaos.HasFlag(ChaosModes.Rows)) switch
        {
            (true, true) => $"identities:{o.Seed},rows",
            (true, false) => $"identities:{o.Seed}",
            (false, true) => "rows",
            _ => "none",
        };
        var fingerprint = Fingerprint.Compute($"{_engine.Kind}@{TemplateCodeIdentity.Of(_engine)}", ServerVersion, digest, templateChaos);
        // The lineage leaves out the seed and the digest: with identities chaos and no DEFLAKE_SEED every process builds a
        // template of its own, and each schema change or Deflake build another; the newest supersede the rest.
        var lineage = Fingerprint.ComputeLineage(_engine.Kind, o.Schema.LineageKey, templateChaos.Replace($":{o.Seed}", "", StringComparison.Ordinal));
        var request = new TemplateRequest(fingerprint, o.Schema, o.Chaos, o.Seed) { Lineage = lineage };
        Template = await _engine.EnsureTemplateAsync(request, cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("Deflake {Engine} template {Template} ({State}); seed {Seed}, chaos {Chaos}",
            _engine.Kind, Template.Name, Template.WasBuilt ? "built" : "reused", o.Seed, ChaosModeNames.Format(o.Chaos));
        if (o.RemoveOrphansOnStart)
        {
            try
            {
                var superseded = await _engine.RemoveSupersededTemplatesAsync(request, cancellationToken).ConfigureAwait(false);
                OrphansRemoved += superseded;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Housekeeping: a failure here must not fail the run; the next pool start (or the age rule) tries again.
                _logger.LogWarning(ex, "Deflake could not remove superseded {Engine} templates", _engine.Kind);
            }
        }

        // Making and dropping a clone is mostly the server's (or the disk's) work with waits in between, so more of
        // them than cores keeps it busy: on 2 cores, PostgreSQL in memory, 4 fillers and 2 returners sustained about
        // 20% more rent + dispose per second than 2 and 1. Both stay within MaxDatabases (the slots).
        var fillerCount = Math.Clamp(Math.Min(o.PoolSize, 2 * Environment.ProcessorCount), 1, 4);
        var returnerCount = Math.Clamp(fillerCount / 2, 1, 2);
        DeflakeEnvironment.ReportActivity($"pool\t{ChaosModeNames.Format(o.Chaos)}");
        if (o.Chaos.HasFlag(ChaosModes.Identities))
        {
            // What identities could not cover, whatever the engine: deflake hunt names it in its report.
            foreach (var key in Template.IdentitiesNotCovered)
            {
                DeflakeEnvironment.ReportActivity($"uncovered\t{_engine.Kind}\t{OneField(key.Key)}\t{OneField(key.Reason)}");
            }
        }

        _fillers = Enumerable.Range(0, fillerCount).Select(_ => Task.Run(FillAsync, CancellationToken.None)).ToArray();
        _returners = Enumerable.Range(0, returnerCount).Select(_ => Task.Run(ReturnLoopAsync, CancellationToken.None)).ToArray();
    }

    /// <summary>Text for one field of an activity line: tabs and line breaks become spaces.</summary>
    private static string OneField(string text) => text.Replace('\t', ' ').Replace('\r', ' ').Replace('\n', ' ');

    /// <summary>
    /// Hands out a database of its own: at once when a ready clone is waiting, otherwise as soon as one is made.
    /// Dispose it when the test ends.
    /// </summary>
    public async ValueTask<TestDatabase> RentAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_ready.Reader.TryRead(out var clone))
        {
            // Without recycling every rent is replaced by a new clone. With it, returned databases come back: a new clone
            // is made only when the ready queue runs dry and no returned database is on its way back, so the pool grows
            // to the suite's parallelism and stops there.
            // On their way first, then the queue: a returning or new database is written to the queue before it stops
            // counting as on its way, so read in this order one is always seen in one place or the other.
            if (!_recycle || (OnTheirWay() == 0 && _ready.Reader.Count == 0))
            {
                Request();
            }
        }
        else
        {
            // A restore takes milliseconds, a new clone a hundred or more: wait for a returning database when one is
            // on its way for this renter, and ask for a new clone only when none is.
            // One that reached the queue after the TryRead above counts too (read after OnTheirWay, as above).
            var waiting = Interlocked.Increment(ref _waiting);
            if (!_recycle || waiting > OnTheirWay() + _ready.Reader.Count)
            {
                Request();
            }

            try
            {
                clone = await _ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException ex) when (ex.InnerException is not null)
            {
                throw new InvalidOperationException($"Deflake could not create a {_engine.Kind} clone: {ex.InnerException.Message}", ex.InnerException);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }

        _rented[clone.Name] = clone;
        if (Interlocked.Exchange(ref _rentReported, 1) == 0)
        {
            // Once per pool: whoever started this process (deflake hunt) learns that a test used a database under these modes.
            DeflakeEnvironment.ReportActivity($"rent\t{ChaosModeNames.Format(_options.Chaos)}");
        }

        return new TestDatabase(this, clone);
    }

    /// <summary>Databases that will reach the ready queue without a new request: returning ones, and clones asked for or being made.</summary>
    /// <remarks>
    /// Counted from the moment a clone is asked for until it is delivered: reading the demand semaphore and a count of
    /// clones being made instead missed the one a filler had just taken from the semaphore and not yet counted, and a renter
    /// then asked for a clone too many (seen as 3 clones for a sequential suite with a pool of 2).
    /// </remarks>
    private int OnTheirWay() => Volatile.Read(ref _returning) + Volatile.Read(ref _requested);

    /// <summary>Asks the fillers for one more clone.</summary>
    private void Request()
    {
        Interlocked.Increment(ref _requested);
        _demand.Release();
    }

    internal System.Data.Common.DbConnection CreateConnection(EngineDatabase clone) => _engine.CreateConnection(clone);

    internal async ValueTask<string?> ReturnAsync(EngineDatabase clone, bool keep)
    {
        if (!_rented.TryRemove(clone.Name, out _))
        {
            return null;
        }

        if (keep)
        {
            try
            {
                var where = await _engine.KeepCloneAsync(clone).ConfigureAwait(false);
                _logger.LogWarning("Deflake kept database {Name} of a failed test: {Where}", clone.Name, where);
                return where;
            }
            finally
            {
                _slots.Release();
            }
        }

        if (_recycle)
        {
            Interlocked.Increment(ref _returning);
        }

        if (!_returned.Writer.TryWrite(clone))
        {
            if (_recycle)
            {
                Interlocked.Decrement(ref _returning);
            }

            // The pool is shutting down: drop inline.
            await DropQuietlyAsync(clone).ConfigureAwait(false);
        }

        return null;
    }

    private async Task FillAsync()
    {
        var token = _stopping.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                await _demand.WaitAsync(token).ConfigureAwait(false);
                EngineDatabase clone;
                try
                {
                    await _slots.WaitAsync(token).ConfigureAwait(false);
                    try
                    {
                        clone = await _engine.CreateCloneAsync(Template, token).ConfigureAwait(false);
                    }
                    catch
                    {
                        _slots.Release();
                        throw;
                    }
                }
                catch
                {
                    Interlocked.Decrement(ref _requested);
                    throw;
                }

                Interlocked.Increment(ref _created);
                var delivered = _ready.Writer.TryWrite(clone);
                Interlocked.Decrement(ref _requested);
                if (!delivered)
                {
                    await DropQuietlyAsync(clone).ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (ChannelClosedException)
        {
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Deflake could not create a {Engine} clone", _engine.Kind);
            _ready.Writer.TryComplete(ex);
        }
    }

    /// <summary>
    /// Takes returned databases: recycles each one the engine can restore (back into the ready queue, same name), and
    /// drops the rest; with recycling on, a dropped database is replaced by a new clone so the pool keeps its size.
    /// </summary>
    private async Task ReturnLoopAsync()
    {
        await foreach (var clone in _returned.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (_recycle && !_stopping.IsCancellationRequested)
            {
                var restored = await TryRestoreAsync(clone).ConfigureAwait(false) && _ready.Writer.TryWrite(clone);
                if (!restored)
                {
                    // Replaced by a new clone, asked for before this one stops counting as on its way back.
                    Request();
                }

                Interlocked.Decrement(ref _returning);
                if (restored)
                {
                    Interlocked.Increment(ref _recycled);
                    continue;
                }

                await DropQuietlyAsync(clone).ConfigureAwait(false);
                continue;
            }

            await DropQuietlyAsync(clone).ConfigureAwait(false);
        }
    }

    private async Task<bool> TryRestoreAsync(EngineDatabase clone)
    {
        RestoreResult result;
        try
        {
            result = await _engine.RestoreCloneAsync(clone, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception ex)
        {
            // A restore that fails half-way leaves the database unknown: it is never handed out again.
            result = RestoreResult.NotRestored($"the restore failed ({ex.GetType().Name}: {ex.Message.Split('\n')[0].Trim()})");
        }

        if (!result.Restored)
        {
            _logger.LogDebug("Deflake re-clones instead of recycling {Name}: {Reason}", clone.Name, result.Reason);
        }

        return result.Restored;
    }

    private async Task DropQuietlyAsync(EngineDatabase clone)
    {
        try
        {
            await _engine.DropCloneAsync(clone).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Orphan collection removes it later; a failed drop must not fail the test that returned it.
            _logger.LogWarning(ex, "Deflake could not drop {Name}; it will be collected later", clone.Name);
        }
        finally
        {
            Interlocked.Increment(ref _dropped);
            _slots.Release();
        }
    }

    /// <summary>Stops filling, drops every database this pool made (except kept ones), and disposes the engine.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_fillers).ConfigureAwait(false);
        _ready.Writer.TryComplete();
        while (_ready.Reader.TryRead(out var ready))
        {
            _returned.Writer.TryWrite(ready);
        }

        foreach (var rented in _rented.Values)
        {
            if (_rented.TryRemove(rented.Name, out _))
            {
                _returned.Writer.TryWrite(rented);
            }
        }

        _returned.Writer.TryComplete();
        await Task.WhenAll(_returners).ConfigureAwait(false);
        // A database recycled while the pool was stopping went back to the (completed) ready queue: drop it too.
        while (_ready.Reader.TryRead(out var late))
        {
            await DropQuietlyAsync(late).ConfigureAwait(false);
        }

        await _engine.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _slots.Dispose();
        _demand.Dispose();
    }
}

/// <summary>A snapshot of what a <see cref="TestDatabasePool"/> has done.</summary>
/// <param name="Created">Clones made from the template.</param>
/// <param name="Recycled">Returned databases restored in place and handed out again.</param>
/// <param name="Dropped">Databases dropped (returned ones that could not be recycled, and those removed at disposal).</param>
public sealed record TestDatabasePoolStatistics(long Created, long Recycled, long Dropped);
