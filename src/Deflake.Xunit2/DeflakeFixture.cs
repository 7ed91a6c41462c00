using Deflake.Testing;
using Xunit;

namespace Deflake.Xunit2;

/// <summary>
/// Says which engine and schema the test assembly's databases come from. xUnit v2 has no assembly fixtures, so the
/// pool is kept once per process for each fixture type (<see cref="SharedTestPools"/>) and dropped when the process
/// exits; <c>[DeflakeDatabase(typeof(MyDatabase))]</c> rents from it, and so does an instance taken as a class or
/// collection fixture (<see cref="RentAsync"/>).
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
public abstract class DeflakeFixture : IAsyncLifetime
{
    /// <summary>The engine a pool uses (called once per pool).</summary>
    protected abstract IDatabaseEngine CreateEngine();

    /// <summary>The pool options: at least the schema (called once per pool).</summary>
    protected abstract TestDatabaseOptions CreateOptions();

    /// <summary>The assembly's pools for this fixture type, started on first use.</summary>
    internal ValueTask<TestPools> PoolsAsync() => SharedTestPools.GetAsync(GetType(), CreateEngine, CreateOptions, Xunit2Diagnostics.Write);

    /// <summary>The pool (starts it when no test has yet).</summary>
    public async Task<TestDatabasePool> GetPoolAsync() => (await PoolsAsync().ConfigureAwait(false)).Pool;

    /// <summary>
    /// Hands the test <paramref name="testId"/> (<c>Namespace.Class.Method</c>) a database of its own, under the chaos
    /// modes <c>DEFLAKE_CHAOS_TESTS</c> sets for it. Without an id the test gets the pool's chaos modes, which
    /// <c>deflake hunt</c>'s per-test chaos then does not reach: prefer <c>[DeflakeDatabase]</c>, which passes it.
    /// </summary>
    public async ValueTask<TestDatabase> RentAsync(string? testId = null, CancellationToken cancellationToken = default)
    {
        var pools = await PoolsAsync().ConfigureAwait(false);
        return await pools.RentAsync(testId, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts the pool, so a class or collection fixture fails early when the schema is wrong.</summary>
    public virtual async Task InitializeAsync() => await PoolsAsync().ConfigureAwait(false);

    /// <summary>Does nothing: the pool lives until the process exits, for every class that uses it.</summary>
    public virtual Task DisposeAsync() => Task.CompletedTask;
}
