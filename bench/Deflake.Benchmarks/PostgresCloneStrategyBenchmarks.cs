using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Deflake.Postgres;
using Npgsql;

namespace Deflake.Benchmarks;

/// <summary>
/// <c>CREATE DATABASE … TEMPLATE … STRATEGY WAL_LOG</c> against <c>FILE_COPY</c>, each followed by the drop, on a
/// 20-table template with seed rows. Uses <c>DEFLAKE_POSTGRES</c> or the throwaway local server.
/// Run: <c>dotnet run -c Release --project bench/Deflake.Benchmarks -- --filter *PostgresCloneStrategy*</c>.
/// </summary>
[MemoryDiagnoser(false)]
[WarmupCount(3)]
[IterationCount(15)]
public class PostgresCloneStrategyBenchmarks
{
    private const string Template = "bench_clone_strategy_tpl";
    private NpgsqlDataSource _admin = null!;
    private int _counter;

    [Params("wal_log", "file_copy")]
    public string Strategy { get; set; } = "file_copy";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var connectionString = Environment.GetEnvironmentVariable(DeflakeEnvironment.Postgres) is { Length: > 0 } configured
            ? configured
            : (await PostgresLocalServer.StartAsync()).ConnectionString;
        _admin = NpgsqlDataSource.Create(connectionString);
        await DropTemplateAsync();
        await ExecuteAsync(_admin, $"create database \"{Template}\" template template0");
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Database = Template, Pooling = false };
        await using (var connection = new NpgsqlConnection(builder.ConnectionString))
        {
            await connection.OpenAsync();
            var sql = new StringBuilder();
            for (var table = 0; table < 20; table++)
            {
                sql.Append(CultureInfo.InvariantCulture, $"create table t{table} (id int generated always as identity primary key, name text not null, n int, created timestamptz default now());")
                   .Append(CultureInfo.InvariantCulture, $"create index on t{table} (name);")
                   .Append(CultureInfo.InvariantCulture, $"insert into t{table} (name, n) select 'row ' || g, g from generate_series(1, 200) g;");
            }

            await using var command = new NpgsqlCommand(sql.ToString(), connection);
            await command.ExecuteNonQueryAsync();
        }

        await ExecuteAsync(_admin, $"alter database \"{Template}\" with is_template true allow_connections false");
    }

    [Benchmark]
    public async Task CloneAndDrop()
    {
        var name = $"bench_clone_strategy_{Interlocked.Increment(ref _counter)}";
        await ExecuteAsync(_admin, $"create database \"{name}\" template \"{Template}\" strategy {Strategy}");
        await ExecuteAsync(_admin, $"drop database \"{name}\" with (force)");
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await DropTemplateAsync();
        await _admin.DisposeAsync();
    }

    private async Task DropTemplateAsync()
    {
        await ExecuteAsync(_admin, $"do $$ begin if exists (select from pg_database where datname = '{Template}') then alter database \"{Template}\" with is_template false; end if; end $$");
        await ExecuteAsync(_admin, $"drop database if exists \"{Template}\" with (force)");
    }

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
