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
public abstract class DeflakeFixture : IAsyncLifetime
{
    private TestDatabasePool? _pool;

    /// <summary>The pool; available once xUnit has initialised the fixture.</summary>
    public TestDatabasePool Pool => _pool ?? throw new InvalidOperationException(
        $"{GetType().Name} is not initialised: register it with [assembly: AssemblyFixture(typeof({GetType().Name}))] and take it in the test class constructor.");

    /// <summary>The engine the pool uses (called once).</summary>
    protected abstract IDatabaseEngine CreateEngine();

    /// <summary>The pool options: at least the schema (called once).</summary>
    protected abstract TestDatabaseOptions CreateOptions();

    /// <summary>Hands the calling test a database of its own. Prefer <see cref="DatabaseTest{TFixture}"/>, which also keeps failed tests' databases.</summary>
    public ValueTask<TestDatabase> RentAsync(CancellationToken cancellationToken = default)
        => Pool.RentAsync(cancellationToken.CanBeCanceled ? cancellationToken : TestContext.Current.CancellationToken);

    /// <summary>Creates the pool: builds the template once per schema fingerprint and starts filling.</summary>
    public virtual async ValueTask InitializeAsync()
    {
        _pool = await TestDatabasePool.CreateAsync(CreateEngine(), CreateOptions(), TestContext.Current.CancellationToken).ConfigureAwait(false);
        var line = $"Deflake: {_pool.EngineKind} template {(_pool.Template.WasBuilt ? "built" : "reused")}, seed {_pool.Seed}, chaos {ChaosModeNames.Format(_pool.Chaos)} (replay with {DeflakeEnvironment.Seed}={_pool.Seed})";
        TestContext.Current.SendDiagnosticMessage(line);
        if (_pool.Chaos != ChaosModes.None)
        {
            // Once per test process, so a chaos failure can always be replayed.
            await Console.Error.WriteLineAsync(line).ConfigureAwait(false);
        }
    }

    /// <summary>Drops every database the pool made (failed tests' kept databases excepted).</summary>
    public virtual async ValueTask DisposeAsync()
    {
        if (_pool is not null)
        {
            await _pool.DisposeAsync().ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }
}
