using System.Globalization;
using Deflake;
using Deflake.MariaDb;
using Deflake.Postgres;

/// <summary>
/// Waits until GO_FILE exists, then starts and stops pools on a server (ENGINE: postgres reads DEFLAKE_POSTGRES,
/// mariadb reads DEFLAKE_MARIADB), CYCLES times in each of PARALLEL loops at once, renting a clone each time, so
/// every start collects orphans while other loops and processes stop and drop theirs. Prints "template NAME" once, then "DONE starts=N failed=M
/// from=TICKS to=TICKS" (UTC ticks of the first start and the last stop); each failed start's error goes to stderr.
/// Args: ENGINE VERSION GO_FILE CYCLES PARALLEL.
/// </summary>
public sealed class ServerStartStopScenario : IScenario
{
    private int _templatePrinted;

    public string Name => "server-start-stop";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var (engine, version, goFile) = (args[0], args[1], args[2]);
        var cycles = int.Parse(args[3], CultureInfo.InvariantCulture);
        var parallel = int.Parse(args[4], CultureInfo.InvariantCulture);
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
                    IDatabaseEngine created = engine == "mariadb" ? new MariaDbEngine() : new PostgresEngine();
                    await using var pool = await TestDatabasePool.CreateAsync(created, new TestDatabaseOptions
                    {
                        Schema = SchemaSource.FromDelegate("server-start-stop", version, async (connection, ct) =>
                        {
                            await using var command = connection.CreateCommand();
                            command.CommandText = "create table t (id int primary key)";
                            await command.ExecuteNonQueryAsync(ct);
                        }),
                        PoolSize = 1,
                        Chaos = ChaosModes.None,
                    }, cancellationToken);
                    if (Interlocked.Exchange(ref _templatePrinted, 1) == 0)
                    {
                        Console.WriteLine($"template {pool.Template.Name}");
                    }

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
