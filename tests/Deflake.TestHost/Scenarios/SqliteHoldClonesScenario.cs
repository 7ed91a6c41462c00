using Deflake;
using Deflake.Sqlite;

/// <summary>
/// Creates a SQLite pool in DIR, rents two clones, prints "READY path1 path2", then waits to be killed.
/// Args: DIR.
/// </summary>
public sealed class SqliteHoldClonesScenario : IScenario
{
    public string Name => "sqlite-hold-clones";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = args[0] });
        var pool = await TestDatabasePool.CreateAsync(engine, new TestDatabaseOptions
        {
            Schema = SchemaSource.FromDelegate("crash", "1", async (connection, ct) =>
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "CREATE TABLE t (id INTEGER PRIMARY KEY)";
                await command.ExecuteNonQueryAsync(ct);
            }),
            PoolSize = 2,
            Chaos = ChaosModes.None,
        }, cancellationToken);
        var first = await pool.RentAsync(cancellationToken);
        var second = await pool.RentAsync(cancellationToken);
        Console.WriteLine($"READY {Path(first)} {Path(second)}");
        await Task.Delay(Timeout.Infinite, cancellationToken);
        GC.KeepAlive(pool);
        return 0;
    }

    private static string Path(TestDatabase database) => new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(database.ConnectionString).DataSource;
}
