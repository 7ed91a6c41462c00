using Deflake.Testing;
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
    private TestPools? _pools;

    /// <summary>The pool; available once xUnit has initialised the fixture.</summary>
    public TestDatabasePool Pool => Pools.Pool;

    /// <summary>The assembly's pools (the pool, and those of the chaos modes <c>DEFLAKE_CHAOS_TESTS</c> sets per test).</summary>
    internal TestPools Pools => _pools ?? throw new InvalidOperationException(
        $"{GetType().Name} is not initialised: register it with [assembly: AssemblyFixture(typeof({GetType().Name}))] and take it in the test class constructor.");

    /// <summary>The engine the pool uses (called once per pool: once, unless <c>DEFLAKE_CHAOS_TESTS</c> asks for other chaos modes).</summary>
    protected abstract IDatabaseEngine CreateEngine();

    /// <summary>The pool options: at least the schema (called once per pool, like <see cref="CreateEngine"/>).</summary>
    protected abstract TestDatabaseOptions CreateOptions();

    /// <summary>
    /// Hands the calling test a database of its own, under the chaos modes <c>DEFLAKE_CHAOS_TESTS</c> sets for it, if
    /// any; warnings Deflake logged since the last rent go to the test's output. Prefer <see cref="DatabaseTest{TFixture}"/>
    /// or <see cref="DeflakeDatabaseAttribute"/>, which also keep failed tests' databases.
    /// </summary>
    public ValueTask<TestDatabase> RentAsync(CancellationToken cancellationToken = default)
    {
        var token = cancellationToken.CanBeCanceled ? cancellationToken : TestContext.Current.CancellationToken;
        // Only when DEFLAKE_CHAOS_TESTS named tests is the test's id worked out at all.
        var pools = Pools;
        var output = TestContext.Current.TestOutputHelper;
        return pools.RentAsync(pools.ChaosPerTest ? CurrentTestId() : null, output is null ? null : output.WriteLine, token);
    }

    /// <summary>The chaos modes <c>DEFLAKE_CHAOS_TESTS</c> sets for a test (<c>Namespace.Class.Method</c>); null: the pool's.</summary>
    internal ChaosModes? ChaosOf(string? testId) => Pools.ChaosOf(testId);

    private static string? CurrentTestId()
        => TestContext.Current.TestClass?.TestClassName is { } type && TestContext.Current.TestMethod?.MethodName is { } method ? $"{type}.{method}" : null;

    /// <summary>Creates the pool: builds the template once per schema fingerprint and starts filling.</summary>
    public virtual async ValueTask InitializeAsync()
    {
        // Normally the start gate is passed already, by the orderers of [assembly: DeflakeOrder]; without them, here.
        _pools = await TestPools.StartAsync(CreateEngine, CreateOptions, line => TestContext.Current.SendDiagnosticMessage(line), TestContext.Current.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>Drops every database the pool made (failed tests' kept databases excepted).</summary>
    public virtual async ValueTask DisposeAsync()
    {
        if (_pools is not null)
        {
            await _pools.DisposeAsync().ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }
}
