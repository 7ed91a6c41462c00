using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Deflake;
using Deflake.Sqlite;
using Microsoft.Data.Sqlite;

/// <summary>
/// Issue 14 item 3: a test that commits 3 rows (three autocommit inserts, on a connection opened from the connection
/// string as the app would), rent to dispose, side by side: a file clone in memory (<c>CloneDirectory = memory</c>,
/// /dev/shm), a file clone on disk (<c>disk</c>: every commit is a disk flush), and an in-memory clone. Target: the file
/// clone in memory within 1.5× the in-memory clone. Short job, in process (no generated project to build, which on a
/// loaded 2-core machine outran BenchmarkDotNet's 2-minute build timeout): about a minute in all.
/// Run: dotnet run -c Release --project bench/Deflake.Benchmarks -- --filter '*SqliteCommitBenchmarks*'
/// </summary>
[Config(typeof(ShortInProcess))]
public class SqliteCommitBenchmarks
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "deflake-bench-commit-" + Guid.NewGuid().ToString("N"));
    private TestDatabasePool _pool = null!;
    private int _next;

    [Params("file in memory", "file on disk", "memory clone")]
    public string Clone { get; set; } = "";

    // Synchronous on purpose: BenchmarkDotNet's in-process toolchain did not always wait for an async setup (seen: the
    // first iteration found no pool when other benchmarks ran before it in the same run).
    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        var options = Clone switch
        {
            "file in memory" => new SqliteEngineOptions { CloneMode = SqliteCloneMode.File, CloneDirectory = "memory" },
            "file on disk" => new SqliteEngineOptions { CloneMode = SqliteCloneMode.File, CloneDirectory = "disk" },
            _ => new SqliteEngineOptions { CloneMode = SqliteCloneMode.Memory },
        };
        options.Directory = _directory;
        _pool = await TestDatabasePool.CreateAsync(new SqliteEngine(options),
            new TestDatabaseOptions { Schema = BenchSchema.Source(), Chaos = ChaosModes.None, Seed = 1 });
    }

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    private async Task CleanupAsync()
    {
        await _pool.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Description = "rent, commit 3 rows, dispose")]
    public async Task<long> CommitThreeRows()
    {
        await using var database = await _pool.RentAsync();
        await using var connection = new SqliteConnection(database.ConnectionString);
        await connection.OpenAsync();
        var id = 1000 + Interlocked.Increment(ref _next);
        for (var row = 0; row < 3; row++)
        {
            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO t07 (id, name, amount) VALUES ($id, 'new', 1)";
            insert.Parameters.AddWithValue("$id", id * 3 + row);
            await insert.ExecuteNonQueryAsync();
        }

        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM t07";
        return (long)(await count.ExecuteScalarAsync())!;
    }

    private sealed class ShortInProcess : ManualConfig
    {
        public ShortInProcess()
            => AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(12));
    }
}
