using BenchmarkDotNet.Attributes;
using Deflake;
using Deflake.Postgres;
using Npgsql;

/// <summary>
/// Per-test cost on PostgreSQL, side by side, on the 20-table schema with seed rows: rent + dispose from a Deflake
/// pool (sustained: the pool refills in the background, so the mean is the steady-state cost per isolated database)
/// against "run the migrations per test" and "one shared database, no isolation".
/// Each operation opens a connection and reads one row, as a test would.
/// </summary>
public class PostgresRentBenchmarks
{
    private TestDatabasePool _pool = null!;
    private string _admin = null!;
    private string _shared = null!;
    private int _counter;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var server = await PostgresLocalServer.StartAsync();
        _admin = server.ConnectionString;
        _pool = await TestDatabasePool.CreateAsync(new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = _admin }),
            new TestDatabaseOptions { Schema = BenchSchema.Source(), Chaos = ChaosModes.None, Seed = 1 });
        var name = "bench_shared_" + Guid.NewGuid().ToString("N")[..8];
        await ExecuteAsync(_admin, $"CREATE DATABASE \"{name}\"");
        _shared = new NpgsqlConnectionStringBuilder(_admin) { Database = name }.ConnectionString;
        await using var connection = new NpgsqlConnection(_shared);
        await connection.OpenAsync();
        await BenchSchema.ApplyAsync(connection);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _pool.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync(_admin, $"DROP DATABASE IF EXISTS \"{new NpgsqlConnectionStringBuilder(_shared).Database}\" WITH (FORCE)");
    }

    [Benchmark(Baseline = true, Description = "shared database, no isolation")]
    public async Task<long> SharedDatabase()
    {
        await using var connection = new NpgsqlConnection(_shared);
        await connection.OpenAsync();
        return await ReadAsync(connection);
    }

    [Benchmark(Description = "Deflake warm pool: rent + dispose (sustained)")]
    public async Task<long> DeflakePool()
    {
        await using var database = await _pool.RentAsync();
        await using var connection = await database.OpenConnectionAsync();
        return await ReadAsync(connection);
    }

    [Benchmark(Description = "run the migrations per test")]
    public async Task<long> MigrationsPerTest()
    {
        var name = $"bench_per_test_{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}";
        await ExecuteAsync(_admin, $"CREATE DATABASE \"{name}\"");
        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(_admin) { Database = name, Pooling = false }.ConnectionString;
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await BenchSchema.ApplyAsync(connection);
            return await ReadAsync(connection);
        }
        finally
        {
            await ExecuteAsync(_admin, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ReadAsync(System.Data.Common.DbConnection connection)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT amount::bigint FROM t07 WHERE id = 3";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

/// <summary>The rent alone from a warm PostgreSQL pool (target p50 ≤ 1 ms).</summary>
public class PostgresRentOnlyBenchmarks
{
    private TestDatabasePool _pool = null!;
    private TestDatabase? _rented;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var server = await PostgresLocalServer.StartAsync();
        _pool = await TestDatabasePool.CreateAsync(new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = server.ConnectionString }),
            new TestDatabaseOptions { Schema = BenchSchema.Source(), Chaos = ChaosModes.None, Seed = 1, PoolSize = 4 });
    }

    [IterationSetup]
    public void WaitUntilWarm()
    {
        _rented?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _rented = null;
        Thread.Sleep(400); // let the background refill the pool
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
    }
}
