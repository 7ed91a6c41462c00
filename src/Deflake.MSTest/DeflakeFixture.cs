using Deflake.Testing;

namespace Deflake.MSTest;

/// <summary>
/// Says which engine and schema the test assembly's databases come from. One pool per process and fixture type
/// (<see cref="SharedTestPools"/>), started by the first test that asks and dropped when the test process exits;
/// <c>[DeflakeTestClass(typeof(MyDatabase))]</c> in place of <c>[TestClass]</c> gives every test of the class its own
/// database from it.
/// </summary>
/// <example>
/// <code>
/// public sealed class ShopDatabase : DeflakeFixture
/// {
///     protected override IDatabaseEngine CreateEngine() => new SqliteEngine();
///     protected override TestDatabaseOptions CreateOptions() => new() { Schema = SchemaSource.FromSqlDirectory("migrations") };
/// }
/// </code>
/// </example>
public abstract class DeflakeFixture
{
    /// <summary>The engine a pool uses (called once per pool).</summary>
    protected abstract IDatabaseEngine CreateEngine();

    /// <summary>The pool options: at least the schema (called once per pool).</summary>
    protected abstract TestDatabaseOptions CreateOptions();

    /// <summary>The assembly's pools for this fixture type, started on first use.</summary>
    internal ValueTask<TestPools> PoolsAsync() => SharedTestPools.GetAsync(GetType(), CreateEngine, CreateOptions, null);

    /// <summary>The pool (starts it when no test has yet).</summary>
    public async Task<TestDatabasePool> GetPoolAsync() => (await PoolsAsync().ConfigureAwait(false)).Pool;

    /// <summary>
    /// Hands the test <paramref name="testId"/> (<c>Namespace.Class.Method</c>) a database of its own, under the chaos
    /// modes <c>DEFLAKE_CHAOS_TESTS</c> sets for it; pending warnings go to <paramref name="testOutput"/>. Prefer
    /// <see cref="DeflakeTestClassAttribute"/>, which passes both and keeps a failed test's database.
    /// </summary>
    public async ValueTask<TestDatabase> RentAsync(string? testId, Action<string>? testOutput = null, CancellationToken cancellationToken = default)
    {
        var pools = await PoolsAsync().ConfigureAwait(false);
        return await pools.RentAsync(testId, testOutput, cancellationToken).ConfigureAwait(false);
    }
}
