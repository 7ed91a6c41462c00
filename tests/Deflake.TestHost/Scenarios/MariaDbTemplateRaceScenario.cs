using System.Diagnostics;
using Deflake;
using Deflake.Coordination;
using Deflake.MariaDb;

/// <summary>
/// Seed 003 (MariaDB): many processes start a pool on the same brand-new schema at the same moment; the schema sleeps
/// a second to widen the race. Usage: <c>mariadb-template-race VERSION GO_FILE</c>; prints <c>ready</c>, waits for
/// GO_FILE, then prints <c>template NAME built|reused</c>. Reads the server from DEFLAKE_MARIADB.
/// </summary>
public sealed class MariaDbTemplateRaceScenario : IScenario
{
    public string Name => "mariadb-template-race";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: mariadb-template-race VERSION GO_FILE");
            return 2;
        }

        var schema = SchemaSource.FromDelegate("mariadb-template-race", args[0], async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE secrets (id INT PRIMARY KEY, hash VARBINARY(32) NOT NULL); DO SLEEP(1);";
            await command.ExecuteNonQueryAsync(ct);
        });
        var engine = new MariaDbEngine();

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
            command.CommandText = "INSERT INTO secrets VALUES (1, UNHEX(SHA2('x', 256))); SELECT COUNT(*) FROM secrets";
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
