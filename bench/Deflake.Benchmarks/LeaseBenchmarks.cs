using BenchmarkDotNet.Attributes;
using Deflake;
using Deflake.Coordination;

/// <summary>
/// Uncontended acquire + release of one lease: local lock files against PostgreSQL advisory locks (DEFLAKE_POSTGRES, else the throwaway local server).
/// Run: dotnet run -c Release --project bench/Deflake.Benchmarks -- --filter '*LeaseBenchmarks*' --job short.
/// Throughput under contention: see docs/leases.md (the lease-contention TestHost scenario).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class LeaseBenchmarks
{
    private static readonly string[] Candidates = ["alice", "bob", "carol"];
    private readonly string _resource = "bench-" + ProcessIdentity.Token;
    private string _directory = null!;
    private Leases _local = null!;
    private Leases _postgres = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _directory = Path.Combine(Path.GetTempPath(), "deflake-bench-" + ProcessIdentity.Token);
        _local = Leases.Local(new LeaseOptions { Directory = _directory });
        var connectionString = Environment.GetEnvironmentVariable(DeflakeEnvironment.Postgres)
            ?? (await Deflake.Postgres.PostgresLocalServer.StartAsync()).ConnectionString;
        _postgres = Leases.Postgres(connectionString);

        // First use opens the connection and creates the files; measure the steady state.
        await (await _local.AcquireAsync(_resource, Candidates, TimeSpan.FromSeconds(5))).DisposeAsync();
        await (await _postgres.AcquireAsync(_resource, Candidates, TimeSpan.FromSeconds(5))).DisposeAsync();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _local.DisposeAsync();
        await _postgres.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "local: acquire + release")]
    public async Task LocalAsync()
    {
        var lease = await _local.AcquireAsync(_resource, Candidates, TimeSpan.FromSeconds(5));
        await lease.DisposeAsync();
    }

    [Benchmark(Description = "postgres: acquire + release")]
    public async Task PostgresAsync()
    {
        var lease = await _postgres.AcquireAsync(_resource, Candidates, TimeSpan.FromSeconds(5));
        await lease.DisposeAsync();
    }
}
