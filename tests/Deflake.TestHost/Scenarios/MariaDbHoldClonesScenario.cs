using Deflake;
using Deflake.Coordination;
using Deflake.MariaDb;

/// <summary>
/// Creates a MariaDB pool, rents two clones, prints <c>owner TOKEN</c>, <c>clone NAME</c> twice and <c>ready</c>, then
/// waits to be killed. Usage: <c>mariadb-hold-clones VERSION</c>. Reads the server from DEFLAKE_MARIADB.
/// </summary>
public sealed class MariaDbHoldClonesScenario : IScenario
{
    public string Name => "mariadb-hold-clones";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var schema = SchemaSource.FromDelegate("mariadb-crash", args.Length > 0 ? args[0] : "1", async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY)";
            await command.ExecuteNonQueryAsync(ct);
        });
        var pool = await TestDatabasePool.CreateAsync(new MariaDbEngine(), new TestDatabaseOptions { Schema = schema, PoolSize = 2, Seed = 1 }, cancellationToken);
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
