using Deflake;
using Deflake.Coordination;
using Deflake.MariaDb;
using Deflake.Postgres;
using Deflake.Sqlite;

/// <summary>
/// A process whose pool uses a template (identities chaos with a given seed) until it is killed: the live user that
/// superseded-template collection must not drop. Usage: <c>hold-template ENGINE SCHEMA VERSION SEED</c> with ENGINE
/// <c>postgres</c>, <c>mariadb</c> or <c>sqlite</c>; prints <c>template NAME</c>, <c>owner TOKEN</c>, then <c>ready</c>,
/// and sleeps. Reads the server from DEFLAKE_POSTGRES or DEFLAKE_MARIADB, SQLite's folder from DEFLAKE_CACHE_DIR.
/// </summary>
public sealed class HoldTemplateScenario : IScenario
{
    public string Name => "hold-template";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length != 4 || args[0] is not ("postgres" or "mariadb" or "sqlite"))
        {
            Console.Error.WriteLine("usage: hold-template postgres|mariadb|sqlite SCHEMA VERSION SEED");
            return 2;
        }

        var create = args[0] switch
        {
            "postgres" => "create table items (id int generated always as identity primary key, name text not null)",
            "mariadb" => "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL)",
            _ => "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)",
        };
        var schema = SchemaSource.FromDelegate(args[1], args[2], async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = create;
            await command.ExecuteNonQueryAsync(ct);
        });
        IDatabaseEngine engine = args[0] switch
        {
            "postgres" => new PostgresEngine(),
            "mariadb" => new MariaDbEngine(),
            _ => new SqliteEngine(),
        };
        var options = new TestDatabaseOptions
        {
            Schema = schema,
            PoolSize = 1,
            Chaos = ChaosModes.Identities,
            Seed = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture),
        };
        var pool = await TestDatabasePool.CreateAsync(engine, options, cancellationToken);
        Console.WriteLine($"template {pool.Template.Name}");
        Console.WriteLine($"owner {ProcessIdentity.Token}");
        Console.WriteLine("ready");
        await Task.Delay(Timeout.Infinite, cancellationToken);
        GC.KeepAlive(pool);
        return 0;
    }
}
