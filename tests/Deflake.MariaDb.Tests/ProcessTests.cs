using Deflake.Testing;

namespace Deflake.MariaDb.Tests;

/// <summary>Several real processes sharing one MariaDB server: the template race (seed 003) and crashed owners.</summary>
public sealed class ProcessTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static async Task<Dictionary<string, string?>> EnvironmentAsync()
        => new(StringComparer.Ordinal) { [DeflakeEnvironment.MariaDb] = await MariaDbTestServer.GetAdminConnectionStringAsync(Token) };

    [Fact]
    public async Task Pools_starting_while_pools_of_other_processes_stop_never_fail_to_start()
    {
        // Issue 17, the same review as SQLite and PostgreSQL: every start collects orphans while peers stop and drop
        // their clones at that moment. 4 processes × 2 loops × 13 cycles: 104 starts.
        const int Processes = 4, Parallel = 2, Cycles = 13;
        var version = "start-stop-" + Guid.NewGuid().ToString("N");
        var directory = Directory.CreateTempSubdirectory("deflake-mariadb-start-stop-");
        var goFile = Path.Combine(directory.FullName, "go");
        var environment = await EnvironmentAsync();
        var hosts = new List<HostChild>();
        try
        {
            for (var i = 0; i < Processes; i++)
            {
                hosts.Add(HostChild.Start("server-start-stop", ["mariadb", version, goFile,
                    Cycles.ToString(System.Globalization.CultureInfo.InvariantCulture), Parallel.ToString(System.Globalization.CultureInfo.InvariantCulture)], environment));
            }

            await File.WriteAllTextAsync(goFile, "go", Token);
            var runs = new List<long[]>();
            foreach (var host in hosts)
            {
                var output = await host.WaitForSuccessAsync(TimeSpan.FromSeconds(300));
                Assert.Equal("", host.Stderr);
                var done = output.Split('\n').Single(l => l.StartsWith("DONE ", StringComparison.Ordinal)).Trim();
                runs.Add([.. done.Split(' ')[1..].Select(f => long.Parse(f[(f.IndexOf('=', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture))]);
            }

            Assert.All(runs, r => Assert.Equal(0, r[1]));
            Assert.Equal(Processes * Parallel * Cycles, runs.Sum(r => r[0]));
            Assert.True(runs.Max(r => r[2]) < runs.Min(r => r[3]), "the processes' start/stop loops did not overlap");

            // Every clone was dropped by its pool or collected: the registry holds no clone of these processes.
            var pids = string.Join(',', hosts.Select(h => h.Id));
            Assert.Equal(0L, Convert.ToInt64(await MariaDbTestServer.ScalarAsync(
                $"SELECT COUNT(*) FROM `deflake_registry`.`databases` WHERE kind <> 'template' AND pid IN ({pids})", Token), System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }

            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Three_processes_starting_at_the_same_moment_build_the_template_exactly_once_without_errors()
    {
        var version = "race-" + Guid.NewGuid().ToString("N");
        var directory = Directory.CreateTempSubdirectory("deflake-mariadb-race-");
        var goFile = Path.Combine(directory.FullName, "go");
        var environment = await EnvironmentAsync();
        var hosts = new List<HostChild>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                hosts.Add(HostChild.Start("mariadb-template-race", [version, goFile], environment));
            }

            foreach (var host in hosts)
            {
                await host.ReadLineStartingAsync("ready", Patience);
            }

            await File.WriteAllTextAsync(goFile, "go", Token);

            var results = new List<string>();
            foreach (var host in hosts)
            {
                var output = await host.WaitForSuccessAsync(Patience);
                Assert.Equal("", host.Stderr);
                results.Add(output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("template ", StringComparison.Ordinal)));
            }

            Assert.Single(results, r => r.EndsWith(" built", StringComparison.Ordinal));
            Assert.Equal(2, results.Count(r => r.EndsWith(" reused", StringComparison.Ordinal)));
            Assert.Single(results.Select(r => r.Split(' ')[1]).Distinct());
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }

            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Clones_of_a_killed_process_are_removed_by_the_next_pool_and_a_live_pools_clone_is_not()
    {
        await using var alive = await MariaDbTestServer.CreatePoolAsync(MariaDbEngineTests.Options(MariaDbEngineTests.Sql("CREATE TABLE items (id INT PRIMARY KEY); INSERT INTO items VALUES (1)")), Token);
        await using var aliveClone = await alive.RentAsync(Token);

        string owner;
        string[] orphans;
        await using (var host = HostChild.Start("mariadb-hold-clones", ["crash-" + Guid.NewGuid().ToString("N")], await EnvironmentAsync()))
        {
            owner = (await host.ReadLineStartingAsync("owner ", Patience))["owner ".Length..].Trim();
            orphans = [(await host.ReadLineStartingAsync("clone ", Patience))["clone ".Length..].Trim(), (await host.ReadLineStartingAsync("clone ", Patience))["clone ".Length..].Trim()];
            await host.ReadLineStartingAsync("ready", Patience);
            Assert.Subset(await MariaDbTestServer.DatabaseNamesAsync("deflake_", Token), orphans.ToHashSet());
            await host.KillAsync();
        }

        // The server notices the dead client's sessions a moment after the kill; each new pool collects what it can.
        var names = await MariaDbTestServer.DatabaseNamesAsync("", Token);
        for (var attempt = 0; attempt < 100 && names.Any(n => n.Contains(owner, StringComparison.Ordinal)); attempt++)
        {
            await using (await MariaDbTestServer.CreatePoolAsync(MariaDbEngineTests.Options(MariaDbEngineTests.Sql("CREATE TABLE t (id INT)")), Token))
            {
            }

            names = await MariaDbTestServer.DatabaseNamesAsync("", Token);
            if (names.Any(n => n.Contains(owner, StringComparison.Ordinal)))
            {
                await Task.Delay(100, Token);
            }
        }

        Assert.DoesNotContain(orphans[0], names);
        Assert.DoesNotContain(orphans[1], names);
        Assert.Contains(aliveClone.Name, names);
        await using var connection = await aliveClone.OpenConnectionAsync(Token);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM items";
        Assert.Equal(1L, Convert.ToInt64(await command.ExecuteScalarAsync(Token), System.Globalization.CultureInfo.InvariantCulture));
    }
}
