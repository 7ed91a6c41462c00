using BenchmarkDotNet.Attributes;
using Deflake;
using Deflake.Sqlite;
using Microsoft.Data.Sqlite;

/// <summary>
/// Per-test cost on SQLite, side by side: rent + dispose from Deflake pools (file and memory clones)
/// against "run the migrations per test" and "one shared database, no isolation".
/// Each operation also opens a connection and reads one row, as a test would.
/// </summary>
[MemoryDiagnoser]
public class SqliteRentBenchmarks
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "deflake-bench-sqlite-" + Guid.NewGuid().ToString("N"));
    private TestDatabasePool _filePool = null!;
    private TestDatabasePool _memoryPool = null!;
    private string _shared = null!;
    private int _counter;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        Directory.CreateDirectory(_directory);
        _filePool = await TestDatabasePool.CreateAsync(
            new SqliteEngine(new SqliteEngineOptions { Directory = Path.Combine(_directory, "file"), CloneMode = SqliteCloneMode.File }),
            new TestDatabaseOptions { Schema = BenchSchema.Source(), Chaos = ChaosModes.None, Seed = 1 });
        _memoryPool = await TestDatabasePool.CreateAsync(
            new SqliteEngine(new SqliteEngineOptions { Directory = Path.Combine(_directory, "memory"), CloneMode = SqliteCloneMode.Memory }),
            new TestDatabaseOptions { Schema = BenchSchema.Source(), Chaos = ChaosModes.None, Seed = 1 });
        _shared = new SqliteConnectionStringBuilder { DataSource = Path.Combine(_directory, "shared.db") }.ToString();
        await using var connection = new SqliteConnection(_shared);
        await connection.OpenAsync();
        await BenchSchema.ApplyAsync(connection);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _filePool.DisposeAsync();
        await _memoryPool.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "shared database, no isolation")]
    public async Task<long> SharedDatabase()
    {
        await using var connection = new SqliteConnection(_shared);
        await connection.OpenAsync();
        return await ReadAsync(connection);
    }

    [Benchmark(Description = "Deflake file clone: rent + dispose")]
    public async Task<long> DeflakeFileClone()
    {
        await using var database = await _filePool.RentAsync();
        await using var connection = await database.OpenConnectionAsync();
        return await ReadAsync(connection);
    }

    [Benchmark(Description = "Deflake memory clone: rent + dispose")]
    public async Task<long> DeflakeMemoryClone()
    {
        await using var database = await _memoryPool.RentAsync();
        await using var connection = await database.OpenConnectionAsync();
        return await ReadAsync(connection);
    }

    [Benchmark(Description = "run the migrations per test")]
    public async Task<long> MigrationsPerTest()
    {
        var path = Path.Combine(_directory, $"per-test-{Interlocked.Increment(ref _counter)}.db");
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        long result;
        await using (var connection = new SqliteConnection(connectionString))
        {
            await connection.OpenAsync();
            // In one transaction, as a migrator would: the fair version of this alternative.
            await using (var command = connection.CreateCommand())
            {
                command.CommandText = "BEGIN;\n" + BenchSchema.Sql + "COMMIT;";
                await command.ExecuteNonQueryAsync();
            }

            result = await ReadAsync(connection);
        }

        File.Delete(path);
        return result;
    }

    private static async Task<long> ReadAsync(System.Data.Common.DbConnection connection)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT amount FROM t07 WHERE id = 3";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

/// <summary>The rent alone, from a warm pool (the figure the issue targets: p50 ≤ 0.5 ms).</summary>
public class SqliteRentOnlyBenchmarks
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "deflake-bench-rent-" + Guid.NewGuid().ToString("N"));
    private TestDatabasePool _pool = null!;
    private TestDatabase? _rented;

    [Params(SqliteCloneMode.File, SqliteCloneMode.Memory)]
    public SqliteCloneMode Mode { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _pool = await TestDatabasePool.CreateAsync(
            new SqliteEngine(new SqliteEngineOptions { Directory = _directory, CloneMode = Mode }),
            new TestDatabaseOptions { Schema = BenchSchema.Source(), Chaos = ChaosModes.None, Seed = 1, PoolSize = 16 });
    }

    [IterationSetup]
    public void WaitUntilWarm()
    {
        _rented?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _rented = null;
        Thread.Sleep(50); // let the background fill the pool again
    }

    [Benchmark(Description = "RentAsync from a warm pool")]
    public async Task Rent()
    {
        _rented = await _pool.RentAsync();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        if (_rented is not null)
        {
            await _rented.DisposeAsync();
        }

        await _pool.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
