using System.Globalization;
using Deflake;
using Deflake.Sqlite;

/// <summary>
/// Waits until GO_FILE exists, then starts and stops SQLite pools in DIR, CYCLES times in each of PARALLEL loops at
/// once (each start collects orphans while the other loops and processes stop theirs), renting one clone each time.
/// Prints "DONE starts=N failed=M from=TICKS to=TICKS" (UTC ticks of the first start and the last stop); each failed
/// start's error goes to stderr. Args: DIR GO_FILE CYCLES PARALLEL.
/// </summary>
public sealed class SqliteStartStopScenario : IScenario
{
    public string Name => "sqlite-start-stop";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var (directory, goFile) = (args[0], args[1]);
        var cycles = int.Parse(args[2], CultureInfo.InvariantCulture);
        var parallel = int.Parse(args[3], CultureInfo.InvariantCulture);
        while (!File.Exists(goFile))
        {
            await Task.Delay(5, cancellationToken);
        }

        var from = DateTime.UtcNow.Ticks;
        var starts = 0;
        var failed = 0;
        await Task.WhenAll(Enumerable.Range(0, parallel).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < cycles; i++)
            {
                Interlocked.Increment(ref starts);
                try
                {
                    await using var pool = await TestDatabasePool.CreateAsync(new SqliteEngine(new SqliteEngineOptions { Directory = directory }), new TestDatabaseOptions
                    {
                        Schema = SchemaSource.FromDelegate("start-stop", "1", async (connection, ct) =>
                        {
                            await using var command = connection.CreateCommand();
                            command.CommandText = "CREATE TABLE t (id INTEGER PRIMARY KEY)";
                            await command.ExecuteNonQueryAsync(ct);
                        }),
                        PoolSize = 1,
                        Chaos = ChaosModes.None,
                    }, cancellationToken);
                    await using var database = await pool.RentAsync(cancellationToken);
                }
                catch (Exception ex)
                {
                    Interlocked.Increment(ref failed);
                    Console.Error.WriteLine($"FAILED {ex.GetType().Name}: {ex.Message}");
                }
            }
        }, cancellationToken)));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"DONE starts={starts} failed={failed} from={from} to={DateTime.UtcNow.Ticks}"));
        return 0;
    }
}
