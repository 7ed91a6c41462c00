using System.Diagnostics;
using Deflake;
using Deflake.Coordination;

/// <summary>
/// Seed 003 on a database server: many processes start a pool on the same brand-new schema at the same moment; the
/// schema sleeps to widen the race. Usage: <c>NAME VERSION GO_FILE</c>; prints <c>ready</c>, waits for GO_FILE to
/// appear, then prints <c>template NAME built|reused</c>. Each engine's scenario gives its schema, its check and its engine.
/// </summary>
public abstract class ServerTemplateRaceScenario : IScenario
{
    public abstract string Name { get; }

    /// <summary>Builds the template: slow on purpose, creating a table <c>secrets</c>.</summary>
    protected abstract string SchemaSql { get; }

    /// <summary>Inserts one row into <c>secrets</c> and counts the rows: 1 in an isolated clone.</summary>
    protected abstract string CheckSql { get; }

    /// <summary>The engine, reading its server from the environment.</summary>
    protected abstract IDatabaseEngine CreateEngine();

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine($"usage: {Name} VERSION GO_FILE");
            return 2;
        }

        var schema = SchemaSource.FromDelegate(Name, args[0], async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = SchemaSql;
            await command.ExecuteNonQueryAsync(ct);
        });
        var engine = CreateEngine();

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
            command.CommandText = CheckSql;
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
