using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Deflake;
using Deflake.Postgres;

/// <summary>
/// The test of <see cref="PostgresIsolationBenchmarks"/> on a brand-new clone per test (<c>Recycle = false</c>): the
/// pool makes and drops a database for every test. Its own class because a test costs about 30 ms here, so the 400
/// tests an iteration the other strategies need for a steady state would take minutes; 40 are enough to see it.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5, invocationCount: 40)]
public class PostgresIsolationFreshCloneBenchmarks
{
    private TestDatabasePool _fullClones = null!;

    /// <summary>Rows the test writes (split over two tables).</summary>
    [Params(0, 3, 1000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var server = await PostgresLocalServer.StartAsync();
        _fullClones = await TestDatabasePool.CreateAsync(new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = server.ConnectionString }),
            new TestDatabaseOptions { Schema = BenchSchema.Source(), Chaos = ChaosModes.None, Seed = 1, Recycle = false });
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _fullClones.DisposeAsync();
        Console.WriteLine($"// full-clone pool: {_fullClones.Statistics}");
    }

    [Benchmark(Description = "Deflake, a new clone per test")]
    public async Task<long> DeflakeFullClones()
    {
        await using var database = await _fullClones.RentAsync();
        await using var connection = await database.OpenConnectionAsync();
        return await PostgresIsolationBenchmarks.TestAsync(connection, Rows);
    }
}
