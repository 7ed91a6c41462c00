using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Deflake;
using Deflake.MariaDb;

/// <summary>
/// Isolated tests per second on MariaDB, side by side in one run: rent + open + a 3-row write + dispose from a pool that
/// recycles returned databases (restored in place) and from one that drops each and clones anew (<c>Recycle = false</c>),
/// on the 20-table, 1,000-row schema of <see cref="MariaDbRentBenchmarks"/>. Sustained: each pool refills or restores in
/// the background while the next test runs. A short monitoring job (fixed invocations) so the run takes minutes.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 4, invocationCount: 30)]
public class MariaDbRecycleBenchmarks
{
    private TestDatabasePool _recycling = null!;
    private TestDatabasePool _recloning = null!;
    private int _counter;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var server = await MariaDbLocalServer.StartAsync();
        _recycling = await CreatePoolAsync(server.ConnectionString, recycle: true);
        _recloning = await CreatePoolAsync(server.ConnectionString, recycle: false);
    }

    private static async Task<TestDatabasePool> CreatePoolAsync(string admin, bool recycle)
        => await TestDatabasePool.CreateAsync(new MariaDbEngine(new MariaDbEngineOptions { AdminConnectionString = admin, RestoreClones = recycle }),
            new TestDatabaseOptions
            {
                Schema = SchemaSource.FromDelegate("bench-mariadb", "bench-20-tables-v1", async (connection, ct) =>
                {
                    await using var command = connection.CreateCommand();
                    command.CommandText = MariaDbRentBenchmarks.BuildSchema();
                    await command.ExecuteNonQueryAsync(ct);
                }),
                Chaos = ChaosModes.None,
                Seed = 1,
                Recycle = recycle,
            });

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        Console.WriteLine($"// recycling pool: {_recycling.Statistics}; re-cloning pool: {_recloning.Statistics}");
        await _recycling.DisposeAsync();
        await _recloning.DisposeAsync();
    }

    [Benchmark(Baseline = true, Description = "Recycle = false: drop + new clone per test")]
    public Task<long> Recloning() => RunTestAsync(_recloning);

    [Benchmark(Description = "Recycle = true: restore in place per test")]
    public Task<long> Recycling() => RunTestAsync(_recycling);

    private async Task<long> RunTestAsync(TestDatabasePool pool)
    {
        var n = Interlocked.Increment(ref _counter);
        await using var database = await pool.RentAsync();
        await using var connection = await database.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = string.Create(CultureInfo.InvariantCulture,
            $"INSERT INTO t03 (id, name, amount) VALUES ({1000 + n}, 'a', 1), ({2000 + n}, 'b', 2); UPDATE t07 SET amount = {n} WHERE id = 3");
        return await command.ExecuteNonQueryAsync();
    }
}
