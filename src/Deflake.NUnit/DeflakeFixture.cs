using Deflake.Testing;
using NUnit.Framework;

namespace Deflake.NUnit;

/// <summary>
/// Says which engine and schema the test assembly's databases come from. One pool per process and fixture type
/// (<see cref="SharedTestPools"/>), started by the first test that asks and dropped when the test process exits;
/// <c>[assembly: DeflakeDatabase(typeof(MyDatabase))]</c> gives every test its own database from it.
/// </summary>
/// <example>
/// <code>
/// [assembly: DeflakeDatabase(typeof(ShopDatabase))]
///
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
    internal ValueTask<TestPools> PoolsAsync() => SharedTestPools.GetAsync(GetType(), CreateEngine, CreateOptions, line => TestContext.Progress.WriteLine(line));

    /// <summary>The pool (starts it when no test has yet).</summary>
    public async Task<TestDatabasePool> GetPoolAsync() => (await PoolsAsync().ConfigureAwait(false)).Pool;

    /// <summary>
    /// Hands the running test a database of its own, under the chaos modes <c>DEFLAKE_CHAOS_TESTS</c> sets for it
    /// (by its id, <c>Namespace.Class.Method</c>); warnings Deflake logged since the last rent go to the test's output.
    /// Prefer <see cref="DeflakeDatabaseAttribute"/>, which also keeps a failed test's database.
    /// </summary>
    public async ValueTask<TestDatabase> RentAsync(CancellationToken cancellationToken = default)
    {
        var pools = await PoolsAsync().ConfigureAwait(false);
        var test = TestContext.CurrentContext.Test;
        var testId = test.ClassName is { } className && test.MethodName is { } method ? $"{className}.{method}" : null;
        var output = TestContext.Out;
        return await pools.RentAsync(testId, output.WriteLine, cancellationToken).ConfigureAwait(false);
    }
}
