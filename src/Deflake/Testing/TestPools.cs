using System.Collections.Concurrent;

namespace Deflake.Testing;

/// <summary>
/// The pools of one test assembly, for a test-framework integration (xUnit v3 and v2, NUnit, MSTest): the assembly's
/// pool, plus one per other chaos setting <c>DEFLAKE_CHAOS_TESTS</c> asks for (created on first use), so that
/// <see cref="RentAsync"/> hands each test a database under the chaos modes <c>deflake hunt</c> chose for it by its id
/// (<c>Namespace.Class.Method</c>). Warnings the pools log reach the tests' output (<see cref="WarningForwarder"/>), and
/// the pools report their activity to <c>DEFLAKE_ACTIVITY</c>.
/// </summary>
public sealed class TestPools : IAsyncDisposable
{
    private readonly Func<IDatabaseEngine> _createEngine;
    private readonly Func<TestDatabaseOptions> _createOptions;
    private readonly Action<string>? _diagnostic;
    private readonly ConcurrentDictionary<ChaosModes, Lazy<Task<TestDatabasePool>>> _chaosPools = new();
    private readonly IReadOnlyDictionary<string, ChaosModes> _chaosTests;
    private readonly List<WarningForwarder> _forwarders = [];
    private TestDatabasePool? _pool;

    private TestPools(Func<IDatabaseEngine> createEngine, Func<TestDatabaseOptions> createOptions, Action<string>? diagnostic, IReadOnlyDictionary<string, ChaosModes> chaosTests)
    {
        _createEngine = createEngine;
        _createOptions = createOptions;
        _diagnostic = diagnostic;
        _chaosTests = chaosTests;
    }

    /// <summary>The assembly's pool (chaos from the options, else <c>DEFLAKE_CHAOS</c>).</summary>
    public TestDatabasePool Pool => _pool ?? throw new InvalidOperationException("The pools are not started.");

    /// <summary>Whether <c>DEFLAKE_CHAOS_TESTS</c> names any test (only then does a rent need the test's id).</summary>
    public bool ChaosPerTest => _chaosTests.Count > 0;

    /// <summary>Every warning the pools logged so far, as shown (<c>Deflake warning: …</c>).</summary>
    public IReadOnlyList<string> Warnings
    {
        get
        {
            lock (_forwarders)
            {
                return _forwarders.SelectMany(f => f.Warnings).ToArray();
            }
        }
    }

    /// <summary>
    /// Passes the start gate (<see cref="StartGate"/>), reads <c>DEFLAKE_CHAOS_TESTS</c>, and starts the assembly's pool.
    /// </summary>
    /// <param name="createEngine">Makes the engine of a pool (called once per pool).</param>
    /// <param name="createOptions">Makes the options of a pool (called once per pool; the chaos modes of a per-test pool are set on them).</param>
    /// <param name="diagnostic">Where the framework shows lines that belong to no test (the pool's start line, warnings), or null.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="DeflakeConfigurationException">A setting is wrong (<c>DEFLAKE_CHAOS_TESTS</c>, an option, the engine's).</exception>
    public static async Task<TestPools> StartAsync(Func<IDatabaseEngine> createEngine, Func<TestDatabaseOptions> createOptions, Action<string>? diagnostic, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(createEngine);
        ArgumentNullException.ThrowIfNull(createOptions);
        StartGate.Pass();
        var pools = new TestPools(createEngine, createOptions, diagnostic, DeflakeEnvironment.ReadChaosTests());
        pools._pool = await pools.CreatePoolAsync(null, cancellationToken).ConfigureAwait(false);
        return pools;
    }

    /// <summary>The chaos modes <c>DEFLAKE_CHAOS_TESTS</c> sets for a test (<c>Namespace.Class.Method</c>); null: the assembly pool's.</summary>
    public ChaosModes? ChaosOf(string? testId)
        => testId is not null && _chaosTests.TryGetValue(testId, out var modes) ? modes : null;

    /// <summary>The id Deflake gives a test: the full name of its class, a dot, and its method's name.</summary>
    public static string TestId(Type testClass, string methodName)
    {
        ArgumentNullException.ThrowIfNull(testClass);
        ArgumentNullException.ThrowIfNull(methodName);
        return $"{testClass.FullName ?? testClass.Name}.{methodName}";
    }

    /// <summary>
    /// Hands the test <paramref name="testId"/> a database of its own, under the chaos modes <c>DEFLAKE_CHAOS_TESTS</c>
    /// sets for it, if any; warnings no test has shown yet are written to <paramref name="testOutput"/>.
    /// </summary>
    public async ValueTask<TestDatabase> RentAsync(string? testId, Action<string>? testOutput, CancellationToken cancellationToken = default)
    {
        var pool = ChaosOf(testId) is { } modes && modes != Pool.Chaos
            ? await _chaosPools.GetOrAdd(modes, m => new Lazy<Task<TestDatabasePool>>(() => CreatePoolAsync(m, CancellationToken.None))).Value.ConfigureAwait(false)
            : Pool;
        var database = await pool.RentAsync(cancellationToken).ConfigureAwait(false);
        if (testOutput is not null)
        {
            WarningForwarder[] forwarders;
            lock (_forwarders)
            {
                forwarders = [.. _forwarders];
            }

            foreach (var line in forwarders.SelectMany(f => f.TakePending()))
            {
                testOutput(line);
            }
        }

        return database;
    }

    private async Task<TestDatabasePool> CreatePoolAsync(ChaosModes? chaos, CancellationToken cancellationToken)
    {
        var options = _createOptions();
        if (chaos is { } modes)
        {
            options.Chaos = modes;
        }

        var forwarder = new WarningForwarder(options.LoggerFactory, _diagnostic);
        options.LoggerFactory = forwarder;
        lock (_forwarders)
        {
            _forwarders.Add(forwarder);
        }

        var pool = await TestDatabasePool.CreateAsync(_createEngine(), options, cancellationToken).ConfigureAwait(false);
        var line = $"Deflake: {pool.EngineKind} template {(pool.Template.WasBuilt ? "built" : "reused")}, seed {pool.Seed}, chaos {ChaosModeNames.Format(pool.Chaos)}{(chaos is null ? string.Empty : $" for the tests {DeflakeEnvironment.ChaosTests} names")} (replay with {DeflakeEnvironment.Seed}={pool.Seed})";
        _diagnostic?.Invoke(line);
        if (pool.Chaos != ChaosModes.None)
        {
            // Once per pool, so a chaos failure can always be replayed.
            await Console.Error.WriteLineAsync(line).ConfigureAwait(false);
        }

        return pool;
    }

    /// <summary>Drops every database the pools made (failed tests' kept databases excepted).</summary>
    public async ValueTask DisposeAsync()
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
    }
}
