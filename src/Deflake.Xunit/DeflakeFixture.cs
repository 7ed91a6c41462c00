using System.Collections.Concurrent;
using Xunit;

namespace Deflake.Xunit;

/// <summary>
/// An assembly fixture that owns one <see cref="TestDatabasePool"/> for the whole test assembly. Derive from it,
/// say which engine and schema, and register it once with <c>[assembly: AssemblyFixture(typeof(MyDatabase))]</c>.
/// </summary>
/// <example>
/// <code>
/// [assembly: AssemblyFixture(typeof(ShopDatabase))]
///
/// public sealed class ShopDatabase : DeflakeFixture
/// {
///     protected override IDatabaseEngine CreateEngine() => new SqliteEngine();
///     protected override TestDatabaseOptions CreateOptions() => new() { Schema = SchemaSource.FromSqlDirectory("migrations") };
/// }
/// </code>
/// </example>
/// <remarks>
/// When <c>DEFLAKE_CHAOS_TESTS</c> names a file that sets other chaos modes for some tests, <see cref="RentAsync"/>
/// hands those tests a database from a pool of their own chaos setting (created on first use, with
/// <see cref="CreateEngine"/> and <see cref="CreateOptions"/> called again); every other test uses <see cref="Pool"/>.
/// </remarks>
public abstract class DeflakeFixture : IAsyncLifetime
{
    private readonly ConcurrentDictionary<ChaosModes, Lazy<Task<TestDatabasePool>>> _chaosPools = new();
    private IReadOnlyDictionary<string, ChaosModes> _chaosTests = new Dictionary<string, ChaosModes>(StringComparer.Ordinal);
    private TestDatabasePool? _pool;

    /// <summary>The pool; available once xUnit has initialised the fixture.</summary>
    public TestDatabasePool Pool => _pool ?? throw new InvalidOperationException(
        $"{GetType().Name} is not initialised: register it with [assembly: AssemblyFixture(typeof({GetType().Name}))] and take it in the test class constructor.");

    /// <summary>The engine the pool uses (called once per pool: once, unless <c>DEFLAKE_CHAOS_TESTS</c> asks for other chaos modes).</summary>
    protected abstract IDatabaseEngine CreateEngine();

    /// <summary>The pool options: at least the schema (called once per pool, like <see cref="CreateEngine"/>).</summary>
    protected abstract TestDatabaseOptions CreateOptions();

    /// <summary>
    /// Hands the calling test a database of its own, under the chaos modes <c>DEFLAKE_CHAOS_TESTS</c> sets for it, if
    /// any. Prefer <see cref="DatabaseTest{TFixture}"/>, which also keeps failed tests' databases.
    /// </summary>
    public ValueTask<TestDatabase> RentAsync(CancellationToken cancellationToken = default)
    {
        var token = cancellationToken.CanBeCanceled ? cancellationToken : TestContext.Current.CancellationToken;
        // Only when DEFLAKE_CHAOS_TESTS named tests is the test's id worked out at all.
        return _chaosTests.Count > 0 && ChaosOf(CurrentTestId()) is { } modes && modes != Pool.Chaos ? RentUnderAsync(modes, token) : Pool.RentAsync(token);
    }

    /// <summary>The chaos modes <c>DEFLAKE_CHAOS_TESTS</c> sets for a test (<c>Namespace.Class.Method</c>); null: the pool's.</summary>
    internal ChaosModes? ChaosOf(string? testId)
        => testId is not null && _chaosTests.TryGetValue(testId, out var modes) ? modes : null;

    private static string? CurrentTestId()
        => TestContext.Current.TestClass?.TestClassName is { } type && TestContext.Current.TestMethod?.MethodName is { } method ? $"{type}.{method}" : null;

    private async ValueTask<TestDatabase> RentUnderAsync(ChaosModes modes, CancellationToken cancellationToken)
    {
        var pool = await _chaosPools.GetOrAdd(modes, m => new Lazy<Task<TestDatabasePool>>(() => CreatePoolAsync(m, CancellationToken.None))).Value.ConfigureAwait(false);
        return await pool.RentAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<TestDatabasePool> CreatePoolAsync(ChaosModes? chaos, CancellationToken cancellationToken)
    {
        var options = CreateOptions();
        if (chaos is { } modes)
        {
            options.Chaos = modes;
        }

        var pool = await TestDatabasePool.CreateAsync(CreateEngine(), options, cancellationToken).ConfigureAwait(false);
        var line = $"Deflake: {pool.EngineKind} template {(pool.Template.WasBuilt ? "built" : "reused")}, seed {pool.Seed}, chaos {ChaosModeNames.Format(pool.Chaos)}{(chaos is null ? string.Empty : $" for the tests {DeflakeEnvironment.ChaosTests} names")} (replay with {DeflakeEnvironment.Seed}={pool.Seed})";
        TestContext.Current.SendDiagnosticMessage(line);
        if (pool.Chaos != ChaosModes.None)
        {
            // Once per pool, so a chaos failure can always be replayed.
            await Console.Error.WriteLineAsync(line).ConfigureAwait(false);
        }

        return pool;
    }

    /// <summary>Creates the pool: builds the template once per schema fingerprint and starts filling.</summary>
    public virtual async ValueTask InitializeAsync()
    {
        // Normally passed already, by the orderers of [assembly: DeflakeOrder]; without them, here, before the pool.
        StartGate.Pass();
        _chaosTests = DeflakeEnvironment.ReadChaosTests();
        _pool = await CreatePoolAsync(null, TestContext.Current.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>Drops every database the pool made (failed tests' kept databases excepted).</summary>
    public virtual async ValueTask DisposeAsync()
    {
        if (_pool is not null)
        {
            await _pool.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var created in _chaosPools.Values.Where(p => p.IsValueCreated))
        {
            try
            {
                await (await created.Value.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception) when (created.Value.IsFaulted)
            {
                // It never started; the test that asked for it already failed with the reason.
            }
        }

        GC.SuppressFinalize(this);
    }
}
