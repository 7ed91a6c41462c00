using Deflake;
using Deflake.Sqlite;

/// <summary>
/// Waits until GO_FILE exists, then creates a SQLite pool in DIR whose schema takes a while to build, and prints
/// "BUILT" or "REUSED". Args: DIR GO_FILE VERSION.
/// </summary>
public sealed class SqliteTemplateRaceScenario : IScenario
{
    public string Name => "sqlite-template-race";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var (directory, goFile, version) = (args[0], args[1], args[2]);
        while (!File.Exists(goFile))
        {
            await Task.Delay(5, cancellationToken);
        }

        await using var pool = await TestDatabasePool.CreateAsync(new SqliteEngine(new SqliteEngineOptions { Directory = directory }), new TestDatabaseOptions
        {
            Schema = SchemaSource.FromDelegate("race", version, async (connection, ct) =>
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "CREATE TABLE once (id INTEGER PRIMARY KEY)";
                await command.ExecuteNonQueryAsync(ct);
                await Task.Delay(500, ct); // widen the race, as pg_sleep does in seed 003
            }),
            PoolSize = 1,
            Chaos = ChaosModes.None,
        }, cancellationToken);
        await using var database = await pool.RentAsync(cancellationToken);
        Console.WriteLine(pool.Template.WasBuilt ? "BUILT" : "REUSED");
        return 0;
    }
}
