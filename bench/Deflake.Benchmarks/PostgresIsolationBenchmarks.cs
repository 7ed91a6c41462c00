using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Deflake;
using Deflake.Postgres;
using Npgsql;

/// <summary>
/// What isolating one test costs on PostgreSQL, side by side, amortized (sustained: background work included, since
/// each operation is one whole test and the pool's refilling or recycling competes with the next one). Every test opens
/// a connection, writes <see cref="Rows"/> rows in two tables (0: a read-only test) and reads one seeded row, on the
/// 20-table schema with 50 seed rows each. Strategies: one shared database (no isolation, the baseline), a transaction
/// rolled back at the end, delete every table and re-insert the seed rows (what Respawn-style tools do), Deflake
/// recycling returned databases (the default); Deflake with a brand-new clone per test (<c>Recycle = false</c>) is
/// <see cref="PostgresIsolationFreshCloneBenchmarks"/>. 400 tests an iteration, after two iterations of warm-up: recycling
/// restores each returned database in the background, so a short iteration (it was 40 tests) measures the pool filling up
/// and the first restores rather than the steady state a suite runs in.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 5, invocationCount: 400)]
public class PostgresIsolationBenchmarks
{
    private string _admin = null!;
    private string _shared = null!;
    private TestDatabasePool _recycling = null!;
    private static int s_nextId = 1_000_000;

    /// <summary>Rows the test writes (split over two tables).</summary>
    [Params(0, 3, 1000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var server = await PostgresLocalServer.StartAsync();
        _admin = server.ConnectionString;
        _recycling = await TestDatabasePool.CreateAsync(new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = _admin }),
            new TestDatabaseOptions { Schema = BenchSchema.Source(), Chaos = ChaosModes.None, Seed = 1, Recycle = true });
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
        await _recycling.DisposeAsync();
        Console.WriteLine($"// recycling pool: {_recycling.Statistics}");
        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync(_admin, $"DROP DATABASE IF EXISTS \"{new NpgsqlConnectionStringBuilder(_shared).Database}\" WITH (FORCE)");
    }

    [Benchmark(Baseline = true, Description = "one shared database, no isolation")]
    public async Task<long> Shared()
    {
        await using var connection = new NpgsqlConnection(_shared);
        await connection.OpenAsync();
        return await TestAsync(connection, Rows);
    }

    [Benchmark(Description = "transaction rolled back")]
    public async Task<long> Rollback()
    {
        await using var connection = new NpgsqlConnection(_shared);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var result = await TestAsync(connection, Rows);
        await transaction.RollbackAsync();
        return result;
    }

    [Benchmark(Description = "delete every table and re-seed")]
    public async Task<long> DeleteAndReseed()
    {
        await using var connection = new NpgsqlConnection(_shared);
        await connection.OpenAsync();
        var result = await TestAsync(connection, Rows);
        await using var command = connection.CreateCommand();
        command.CommandText = string.Concat(Enumerable.Range(1, BenchSchema.Tables).Select(t => $"DELETE FROM t{t:00};")) + BenchSchema.SeedSql;
        await command.ExecuteNonQueryAsync();
        return result;
    }

    [Benchmark(Description = "Deflake, recycling (default)")]
    public async Task<long> DeflakeRecycling()
    {
        await using var database = await _recycling.RentAsync();
        await using var connection = await database.OpenConnectionAsync();
        return await TestAsync(connection, Rows);
    }

    /// <summary>The test: writes <paramref name="rows"/> rows (two thirds in t01, the rest in t02), reads one seeded row.</summary>
    internal static async Task<long> TestAsync(System.Data.Common.DbConnection connection, int rows)
    {
        await using var command = connection.CreateCommand();
        if (rows > 0)
        {
            var first = Interlocked.Add(ref s_nextId, rows) - rows;
            var inT01 = rows - rows / 3;
            command.CommandText = string.Create(CultureInfo.InvariantCulture,
                $"INSERT INTO t01 (id, name, amount) SELECT g, 'test', 1 FROM generate_series({first}, {first + inT01 - 1}) g;" +
                $"INSERT INTO t02 (id, name, amount) SELECT g, 'test', 2 FROM generate_series({first + inT01}, {first + rows - 1}) g;");
            await command.ExecuteNonQueryAsync();
        }

        command.CommandText = "SELECT amount::bigint FROM t07 WHERE id = 3";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
