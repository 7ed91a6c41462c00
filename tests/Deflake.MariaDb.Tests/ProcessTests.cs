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
