using System.Globalization;
using Deflake.Coordination;
using Npgsql;

namespace Deflake.Postgres.Tests;

/// <summary>Several real processes sharing one server: the template race (seed 003) and crashed owners.</summary>
public sealed class ProcessTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Four_processes_starting_at_the_same_moment_build_the_template_exactly_once_without_errors()
    {
        var version = "race-" + Guid.NewGuid().ToString("N");
        using var directory = new TempDirectory();
        var goFile = Path.Combine(directory.Path, "go");
        var hosts = new List<TestHostProcess>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                hosts.Add(await TestHostProcess.StartAsync("pg-template-race", version, goFile));
            }

            foreach (var host in hosts)
            {
                host.ReadUntil("ready", Patience);
            }

            await File.WriteAllTextAsync(goFile, "go", Token);

            var results = new List<string>();
            foreach (var host in hosts)
            {
                var exit = await host.WaitForExitAsync(Patience);
                Assert.True(exit == 0, $"pid {host.Id} exited {exit}: {host.Errors}");
                Assert.Equal("", host.Errors);
                results.Add(host.Output.Single(l => l.StartsWith("template ", StringComparison.Ordinal)));
            }

            Assert.Single(results, r => r.EndsWith(" built", StringComparison.Ordinal));
            Assert.Equal(3, results.Count(r => r.EndsWith(" reused", StringComparison.Ordinal)));
            var template = Assert.Single(results.Select(r => r.Split(' ')[1]).Distinct());
            TestTemplateCleanup.Track(template);
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Pools_starting_while_pools_of_other_processes_stop_never_fail_to_start()
    {
        // Issue 17: every start collects orphans while peers stop and drop their clones at that moment.
        // 4 processes × 2 loops × 13 cycles: 104 starts, each renting 2 clones.
        const int Processes = 4, Parallel = 2, Cycles = 13;
        var version = "start-stop-" + Guid.NewGuid().ToString("N");
        using var directory = new TempDirectory();
        var goFile = Path.Combine(directory.Path, "go");
        var hosts = new List<TestHostProcess>();
        try
        {
            for (var i = 0; i < Processes; i++)
            {
                hosts.Add(await TestHostProcess.StartAsync("server-start-stop", "postgres", version, goFile,
                    Cycles.ToString(CultureInfo.InvariantCulture), Parallel.ToString(CultureInfo.InvariantCulture)));
            }

            await File.WriteAllTextAsync(goFile, "go", Token);
            var runs = new List<(int Starts, int Failed, long From, long To)>();
            foreach (var host in hosts)
            {
                var exit = await host.WaitForExitAsync(TimeSpan.FromSeconds(300));
                Assert.True(exit == 0, $"pid {host.Id} exited {exit}: {host.Errors}");
                var fields = host.ReadUntil("DONE ", TimeSpan.FromSeconds(5)).Split(' ')
                    .Select(f => long.Parse(f[(f.IndexOf('=', StringComparison.Ordinal) + 1)..], CultureInfo.InvariantCulture)).ToArray();
                runs.Add(((int)fields[0], (int)fields[1], fields[2], fields[3]));
            }

            Assert.Equal("", string.Concat(hosts.Select(h => h.Errors)));
            Assert.All(runs, r => Assert.Equal(0, r.Failed));
            Assert.Equal(Processes * Parallel * Cycles, runs.Sum(r => r.Starts));
            Assert.True(runs.Max(r => r.From) < runs.Min(r => r.To), "the processes' start/stop loops did not overlap");

            foreach (var template in hosts.SelectMany(h => h.Output).Where(l => l.StartsWith("template ", StringComparison.Ordinal)).Distinct())
            {
                TestTemplateCleanup.Track(template["template ".Length..]);
            }

            // Every clone was dropped by its pool or collected: no database of these processes is left.
            var pids = hosts.Select(h => $"\"pid\":{h.Id.ToString(CultureInfo.InvariantCulture)},").ToArray();
            await using var admin = await PostgresTestServer.OpenAdminAsync(Token);
            await using var list = new NpgsqlCommand(
                "select datname, coalesce(shobj_description(oid, 'pg_database'), '') from pg_database where datname like 'deflake\\_%'", admin);
            var left = new List<string>();
            await using (var reader = await list.ExecuteReaderAsync(Token))
            {
                while (await reader.ReadAsync(Token))
                {
                    if (pids.Any(pid => reader.GetString(1).Contains(pid, StringComparison.Ordinal)))
                    {
                        left.Add(reader.GetString(0));
                    }
                }
            }

            Assert.Empty(left);
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Clones_of_a_killed_process_are_removed_by_the_next_pool_and_nothing_else_is()
    {
        var foreign = "crash_foreign_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = await PostgresTestServer.OpenAdminAsync(Token))
        {
            await TestSchemas.ExecuteAsync(admin, $"create database \"{foreign}\"", Token);
        }

        try
        {
            // A live pool of this process: its clones must survive the other pool's collection.
            await using var alive = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh()), Token);
            await using var aliveClone = await alive.RentAsync(Token);

            string owner;
            string[] orphans;
            await using (var host = await TestHostProcess.StartAsync("pg-hold-clones", "crash-" + Guid.NewGuid().ToString("N")))
            {
                TestTemplateCleanup.Track(host.ReadUntil("template ", Patience));
                owner = host.ReadUntil("owner ", Patience);
                orphans = [host.ReadUntil("clone ", Patience), host.ReadUntil("clone ", Patience)];
                host.ReadUntil("ready", Patience);
                Assert.Subset(await PostgresTestServer.DatabaseNamesAsync("deflake_", Token), orphans.ToHashSet());
                await host.KillAsync();
            }

            await WaitUntilOwnerLockIsFreeAsync(owner);
            await WaitUntilNoStatementMentionsAsync(owner);
            await using var next = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh()), Token);

            // The next pool's start collects them; a pool starting in a parallel test may collect them first, and may
            // still be dropping them: allow that a moment.
            var names = await PostgresTestServer.DatabaseNamesAsync("", Token);
            for (var attempt = 0; attempt < 50 && (names.Contains(orphans[0]) || names.Contains(orphans[1])); attempt++)
            {
                await Task.Delay(100, Token);
                names = await PostgresTestServer.DatabaseNamesAsync("", Token);
            }

            Assert.DoesNotContain(orphans[0], names);
            Assert.DoesNotContain(orphans[1], names);
            Assert.DoesNotContain(names, name => name.Contains(owner, StringComparison.Ordinal));
            Assert.Contains(foreign, names);
            Assert.Contains(aliveClone.Name, names);
            await using var connection = await aliveClone.OpenConnectionAsync(Token);
            Assert.Equal(2L, await TestSchemas.ScalarAsync<long>(connection, "select count(*) from items", Token));
        }
        finally
        {
            await PostgresEngineTests.DropIfExistsAsync(foreign);
        }
    }

    /// <summary>A statement the killed process sent (a clone being created) may still be finishing on the server.</summary>
    private static async Task WaitUntilNoStatementMentionsAsync(string owner)
    {
        await using var admin = await PostgresTestServer.OpenAdminAsync(Token);
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            await using var command = new NpgsqlCommand("select count(*) from pg_stat_activity where pid <> pg_backend_pid() and strpos(query, @owner) > 0 and state = 'active'", admin);
            command.Parameters.AddWithValue("owner", owner);
            if ((long)(await command.ExecuteScalarAsync(Token))! == 0)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "the killed process's statements never finished");
            await Task.Delay(20, Token);
        }
    }

    /// <summary>The killed process's server session ends a moment after the process: wait for its owner lock to go.</summary>
    private static async Task WaitUntilOwnerLockIsFreeAsync(string owner)
    {
        var key = ProcessIdentity.StableKey("owner:" + owner);
        await using var admin = await PostgresTestServer.OpenAdminAsync(Token);
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            await using var command = new NpgsqlCommand("select pg_try_advisory_lock(@key)", admin);
            command.Parameters.AddWithValue("key", key);
            if ((bool)(await command.ExecuteScalarAsync(Token))!)
            {
                await using var unlock = new NpgsqlCommand("select pg_advisory_unlock(@key)", admin);
                unlock.Parameters.AddWithValue("key", key);
                await unlock.ExecuteScalarAsync(Token);
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "the killed process's session never ended");
            await Task.Delay(20, Token);
        }
    }
}
