using System.Diagnostics;
using Deflake;
using Deflake.Coordination;
using Deflake.Postgres;

/// <summary>
/// Seed 003 (PostgreSQL): many processes start a pool on the same brand-new schema at the same moment. The schema runs
/// <c>CREATE EXTENSION IF NOT EXISTS pgcrypto</c> (which races when run concurrently) and sleeps to widen the race.
/// Usage: <c>pg-template-race VERSION GO_FILE</c>; prints <c>ready</c>, waits for GO_FILE to appear, then prints
/// <c>template NAME built|reused</c>. Reads the server from DEFLAKE_POSTGRES.
/// </summary>
public sealed class PostgresTemplateRaceScenario : IScenario
{
    public string Name => "pg-template-race";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: pg-template-race VERSION GO_FILE");
            return 2;
        }

        var schema = SchemaSource.FromDelegate("pg-template-race", args[0], async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "create extension if not exists pgcrypto; select pg_sleep(1); create table secrets (id int primary key, hash bytea not null);";
            await command.ExecuteNonQueryAsync(ct);
        });
        var engine = new PostgresEngine();

        Console.WriteLine($"ready {ProcessIdentity.Token}");
        var waited = Stopwatch.StartNew();
        while (!File.Exists(args[1]))
        {
            if (waited.Elapsed > TimeSpan.FromMinutes(1))
            {
                Console.Error.WriteLine("the go file never appeared");
                return 3;
            }

            await Task.Delay(2, cancellationToken);
        }

        await using var pool = await TestDatabasePool.CreateAsync(engine, new TestDatabaseOptions { Schema = schema, PoolSize = 1, Seed = 1 }, cancellationToken);
        await using (var database = await pool.RentAsync(cancellationToken))
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "insert into secrets values (1, digest('x', 'sha256')); select count(*) from secrets";
            if (Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) != 1)
            {
                Console.Error.WriteLine("the clone is not isolated");
                return 4;
            }
        }

        Console.WriteLine($"template {pool.Template.Name} {(pool.Template.WasBuilt ? "built" : "reused")}");
        return 0;
    }
}
