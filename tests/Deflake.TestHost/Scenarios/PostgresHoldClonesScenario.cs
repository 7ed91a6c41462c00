using Deflake;
using Deflake.Coordination;
using Deflake.Postgres;

/// <summary>
/// A process that holds PostgreSQL clones until it is killed (crash tests). Usage: <c>pg-hold-clones VERSION</c>;
/// prints <c>template NAME</c>, <c>owner TOKEN</c>, one <c>clone NAME</c> per rented clone, then <c>ready</c>, and sleeps.
/// Reads the server from DEFLAKE_POSTGRES.
/// </summary>
public sealed class PostgresHoldClonesScenario : IScenario
{
    public string Name => "pg-hold-clones";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length != 1)
        {
            Console.Error.WriteLine("usage: pg-hold-clones VERSION");
            return 2;
        }

        var schema = SchemaSource.FromDelegate("pg-hold-clones", args[0], async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "create table items (id int primary key)";
            await command.ExecuteNonQueryAsync(ct);
        });
        var pool = await TestDatabasePool.CreateAsync(new PostgresEngine(), new TestDatabaseOptions { Schema = schema, PoolSize = 1, Seed = 1 }, cancellationToken);
        Console.WriteLine($"template {pool.Template.Name}");
        Console.WriteLine($"owner {ProcessIdentity.Token}");
        var first = await pool.RentAsync(cancellationToken);
        var second = await pool.RentAsync(cancellationToken);
        Console.WriteLine($"clone {first.Name}");
        Console.WriteLine($"clone {second.Name}");
        Console.WriteLine("ready");
        await Task.Delay(Timeout.Infinite, cancellationToken);
        GC.KeepAlive(pool);
        return 0;
    }
}
