using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Deflake;
using Deflake.MariaDb;
using MySql.Data.MySqlClient;

/// <summary>
/// Per-test cost on MariaDB, side by side, on the 20-table schema with seed rows (as <see cref="BenchSchema"/>, in
/// MariaDB's types): rent + dispose from a Deflake pool (sustained: the pool refills in the background) against "run the
/// migrations per test" and "one shared database, no isolation". Each operation opens a connection and reads one row.
/// </summary>
public class MariaDbRentBenchmarks
{
    private static readonly string Schema = BuildSchema();
    private TestDatabasePool _pool = null!;
    private TestDatabase _shared = null!;
    private string _admin = null!;
    private int _counter;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var server = await MariaDbLocalServer.StartAsync();
        _admin = server.ConnectionString;
        _pool = await TestDatabasePool.CreateAsync(new MariaDbEngine(new MariaDbEngineOptions { AdminConnectionString = _admin }),
            new TestDatabaseOptions
            {
                Schema = SchemaSource.FromDelegate("bench-mariadb", "bench-20-tables-v1", async (connection, ct) =>
                {
                    await using var command = connection.CreateCommand();
                    command.CommandText = Schema;
                    await command.ExecuteNonQueryAsync(ct);
                }),
                Chaos = ChaosModes.None,
                Seed = 1,
            });

        // The shared database is one rented clone, held for the whole run.
        _shared = await _pool.RentAsync();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _shared.DisposeAsync();
        await _pool.DisposeAsync();
    }

    [Benchmark(Baseline = true, Description = "shared database, no isolation")]
    public async Task<long> SharedDatabase()
    {
        await using var connection = await _shared.OpenConnectionAsync();
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
        await ExecuteAsync(_admin, $"CREATE DATABASE `{name}`");
        try
        {
            // Unpooled: a pool per throwaway database would keep its idle connections until the server runs out of them.
            var connectionString = new MySqlConnectionStringBuilder(_admin) { Database = name, Pooling = false }.ConnectionString;
            await using var connection = new MySqlConnection(connectionString);
            await connection.OpenAsync();
            await using (var command = connection.CreateCommand())
            {
                command.CommandText = Schema;
                await command.ExecuteNonQueryAsync();
            }

            return await ReadAsync(connection);
        }
        finally
        {
            await ExecuteAsync(_admin, $"DROP DATABASE IF EXISTS `{name}`");
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ReadAsync(System.Data.Common.DbConnection connection)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT amount FROM t07 WHERE id = 3";
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    internal static string BuildSchema()
    {
        var sql = new StringBuilder();
        for (var t = 1; t <= BenchSchema.Tables; t++)
        {
            sql.Append(CultureInfo.InvariantCulture, $"CREATE TABLE t{t:00} (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, amount INT NOT NULL, note VARCHAR(100), KEY ix_t{t:00}_name (name));\n");
            sql.Append(CultureInfo.InvariantCulture, $"INSERT INTO t{t:00} (id, name, amount, note) VALUES ");
            sql.Append(string.Join(", ", Enumerable.Range(1, BenchSchema.RowsPerTable).Select(r => string.Create(CultureInfo.InvariantCulture, $"({r}, 'row {r}', {r * 7}, 'seeded')"))));
            sql.Append(";\n");
        }

        return sql.ToString();
    }
}
