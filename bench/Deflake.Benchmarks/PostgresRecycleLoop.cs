using System.Diagnostics;
using System.Globalization;
using Deflake;
using Deflake.Postgres;
using Npgsql;

/// <summary>
/// The 3-row test of <see cref="PostgresIsolationBenchmarks"/> in a plain loop, for seconds on end: rolled back on a
/// database of its own, then on databases Deflake recycles, alternately, each after a warm-up pass as long as the
/// measured one. Not BenchmarkDotNet: recycling restores each returned database in the background, and its steady state
/// (the pool's clones each restored hundreds of times, the vacuums that keeps them small) takes thousands of tests to
/// reach; this prints that state's cost a test, wall clock, this process's CPU and the whole machine's (the server's work
/// included), with the ratio.
/// Run: <c>dotnet run -c Release --project bench/Deflake.Benchmarks -- recycle-loop [seconds] [rounds]</c> (default 5 s, 2).
/// </summary>
internal static class PostgresRecycleLoop
{
    /// <summary>Stopwatch ticks spent in <c>RentAsync</c>: near zero unless tests wait for a database to be restored.</summary>
    private static long s_rentTicks;

    public static void Run(IReadOnlyList<string> args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task RunAsync(IReadOnlyList<string> args)
    {
        var seconds = args.Count > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var rounds = args.Count > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        var server = await PostgresLocalServer.StartAsync();
        await using var pool = await TestDatabasePool.CreateAsync(new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = server.ConnectionString }),
            new TestDatabaseOptions { Schema = BenchSchema.Source(), Chaos = ChaosModes.None, Seed = 1, Recycle = true });
        var name = "bench_loop_" + Guid.NewGuid().ToString("N")[..8];
        await ExecuteAsync(server.ConnectionString, $"CREATE DATABASE \"{name}\"");
        var own = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = name }.ConnectionString;
        try
        {
            await using (var connection = new NpgsqlConnection(own))
            {
                await connection.OpenAsync();
                await BenchSchema.ApplyAsync(connection);
            }

            Console.WriteLine($"// load average {File.ReadAllText("/proc/loadavg").Trim()} (Linux); {seconds} s a pass, warm-up pass first");
            for (var round = 1; round <= rounds; round++)
            {
                var rollback = await MeasureAsync(seconds, async () =>
                {
                    await using var connection = new NpgsqlConnection(own);
                    await connection.OpenAsync();
                    await using var transaction = await connection.BeginTransactionAsync();
                    await PostgresIsolationBenchmarks.TestAsync(connection, 3);
                    await transaction.RollbackAsync();
                });
                var recycling = await MeasureAsync(seconds, async () =>
                {
                    var t0 = Stopwatch.GetTimestamp();
                    await using var database = await pool.RentAsync();
                    s_rentTicks += Stopwatch.GetTimestamp() - t0;
                    await using var connection = await database.OpenConnectionAsync();
                    await PostgresIsolationBenchmarks.TestAsync(connection, 3);
                });
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round}: rolled back {rollback.Wall:F0} µs a test ({rollback.Cpu:F0} µs CPU here, {rollback.Machine:F0} µs on the machine, {rollback.Tests} tests); recycled {recycling.Wall:F0} µs ({recycling.Cpu:F0} µs CPU here, {recycling.Machine:F0} on the machine, {recycling.Tests} tests): {recycling.Wall / rollback.Wall:F2}×"));
            }

            Console.WriteLine($"// time spent renting, all recycled passes (waiting for a restored database shows here): {Stopwatch.GetElapsedTime(0, s_rentTicks).TotalMilliseconds:F0} ms");
            Console.WriteLine($"// load average {File.ReadAllText("/proc/loadavg").Trim()}; pool: {pool.Statistics}");
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecuteAsync(server.ConnectionString, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        }
    }

    /// <summary>One warm-up pass, then one measured pass of <paramref name="seconds"/>: µs a test, wall and this process's CPU.</summary>
    private static async Task<(double Wall, double Cpu, double Machine, int Tests)> MeasureAsync(double seconds, Func<Task> test)
    {
        (double, double, double, int) result = default;
        for (var pass = 0; pass < 2; pass++)
        {
            var machine = MachineBusyTicks();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            var tests = 0;
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                await test();
                tests++;
            }

            var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            var busy = (MachineBusyTicks() - machine) * 10_000.0; // USER_HZ 100: a tick is 10 ms
            result = (clock.Elapsed.TotalMicroseconds / tests, used.TotalMicroseconds / tests, busy / tests, tests);
        }

        return result;
    }

    /// <summary>The whole machine's busy CPU time so far, in ticks (Linux <c>/proc/stat</c>: all but idle and I/O wait); 0 elsewhere.</summary>
    private static long MachineBusyTicks()
    {
        if (!File.Exists("/proc/stat"))
        {
            return 0;
        }

        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..].Select(long.Parse).ToArray();
        return fields.Sum() - fields[3] - fields[4];
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
