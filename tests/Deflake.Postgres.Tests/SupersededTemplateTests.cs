using Deflake.Contract;
using Npgsql;

namespace Deflake.Postgres.Tests;

/// <summary>
/// Templates of one lineage (same schema name and chaos modes, any version or seed) supersede each other: a pool start
/// keeps the two most recently used others and drops the rest that no live pool uses.
/// </summary>
public sealed class SupersededTemplateTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_fourth_template_of_a_lineage_drops_the_oldest_and_keeps_the_two_most_recent_and_itself()
    {
        var lineage = "supersede-" + Guid.NewGuid().ToString("N");
        var built = new List<string>();
        for (var seed = 1; seed <= 3; seed++)
        {
            await using var pool = await CreatePoolAsync(lineage, seed);
            Assert.True(pool.Template.WasBuilt);
            built.Add(pool.Template.Name);
        }

        var log = new ListLoggerFactory();
        await using var fourth = await CreatePoolAsync(lineage, 4, log: log);

        var names = await PostgresTestServer.DatabaseNamesAsync("deflake_tpl_", Token);
        Assert.DoesNotContain(built[0], names);
        Assert.Contains(built[1], names);
        Assert.Contains(built[2], names);
        Assert.Contains(fourth.Template.Name, names);
        Assert.Contains(log.Lines, line => line.StartsWith($"Information: Deflake removed template {built[0]}: superseded by {fourth.Template.Name}", StringComparison.Ordinal)
                                           && line.EndsWith(", unused", StringComparison.Ordinal));
        Assert.True(fourth.OrphansRemoved >= 1);
    }

    [Fact]
    public async Task A_superseded_template_a_live_pool_of_this_process_uses_is_kept_until_that_pool_is_disposed()
    {
        var lineage = "supersede-live-" + Guid.NewGuid().ToString("N");
        var live = await CreatePoolAsync(lineage, 1);
        try
        {
            string second;
            await using (var pool = await CreatePoolAsync(lineage, 2, keep: 0))
            {
                second = pool.Template.Name;
            }

            // Keep 0: every superseded template goes unless a live pool uses it.
            await using (var third = await CreatePoolAsync(lineage, 3, keep: 0))
            {
                var names = await PostgresTestServer.DatabaseNamesAsync("deflake_tpl_", Token);
                Assert.Contains(live.Template.Name, names);
                Assert.DoesNotContain(second, names);
                await using var database = await live.RentAsync(Token); // still clonable
            }

            await live.DisposeAsync();
            await using (var again = await CreatePoolAsync(lineage, 3, keep: 0))
            {
                Assert.False(again.Template.WasBuilt);
                var names = await PostgresTestServer.DatabaseNamesAsync("deflake_tpl_", Token);
                Assert.DoesNotContain(live.Template.Name, names);
                Assert.Contains(again.Template.Name, names);
            }
        }
        finally
        {
            await live.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_superseded_template_another_process_uses_is_kept_until_that_process_is_killed()
    {
        var lineage = "supersede-process-" + Guid.NewGuid().ToString("N");
        string held;
        string fingerprint;
        await using (var host = await TestHostProcess.StartAsync("hold-template", "postgres", lineage, "1", "1"))
        {
            held = host.ReadUntil("template ", Patience);
            TestTemplateCleanup.Track(held);
            host.ReadUntil("ready", Patience);
            fingerprint = held["deflake_tpl_".Length..];

            for (var seed = 2; seed <= 3; seed++)
            {
                await using var pool = await CreatePoolAsync(lineage, seed);
            }

            // Seeds 3 and 2 are the two most recently used others; seed 1 is superseded, but the other process uses it.
            await using (var fourth = await CreatePoolAsync(lineage, 4))
            {
                Assert.Contains(held, await PostgresTestServer.DatabaseNamesAsync(held, Token));
            }

            await host.KillAsync();
        }

        await WaitUntilUnusedAsync(fingerprint);
        await using var next = await CreatePoolAsync(lineage, 4);
        Assert.False(next.Template.WasBuilt);
        Assert.DoesNotContain(held, await PostgresTestServer.DatabaseNamesAsync(held, Token));
    }

    [Fact]
    public async Task Templates_of_another_lineage_and_databases_without_Deflakes_marker_are_never_superseded()
    {
        var suffix = Guid.NewGuid().ToString("N");
        var lineage = "supersede-mine-" + suffix;

        // Another lineage: the same schema name without chaos, and another schema name with the same chaos. Both are
        // older than everything of the lineage under test.
        string noChaos;
        await using (var pool = await CreatePoolAsync(lineage, 1, chaos: ChaosModes.None))
        {
            noChaos = pool.Template.Name;
        }

        string otherName;
        await using (var pool = await CreatePoolAsync("supersede-other-" + suffix, 1))
        {
            otherName = pool.Template.Name;
        }

        // Looks like a template, but the marker is not Deflake's (and one has none at all).
        string[] foreign = [$"deflake_tpl_{suffix[..20]}", $"deflake_tpl_{suffix[12..32]}"];
        await using (var admin = await PostgresTestServer.OpenAdminAsync(Token))
        {
            foreach (var name in foreign)
            {
                await TestSchemas.ExecuteAsync(admin, $"create database \"{name}\" is_template true", Token);
            }

            await TestSchemas.ExecuteAsync(admin, $"comment on database \"{foreign[0]}\" is 'owned by someone else'", Token);
        }

        try
        {
            string first;
            await using (var pool = await CreatePoolAsync(lineage, 1, keep: 0))
            {
                first = pool.Template.Name;
            }

            await using var second = await CreatePoolAsync(lineage, 2, keep: 0);

            var names = await PostgresTestServer.DatabaseNamesAsync("deflake_tpl_", Token);
            Assert.DoesNotContain(first, names); // the rule did run
            Assert.Contains(noChaos, names);
            Assert.Contains(otherName, names);
            Assert.All(foreign, name => Assert.Contains(name, names));
        }
        finally
        {
            await using var admin = await PostgresTestServer.OpenAdminAsync(Token);
            foreach (var name in foreign)
            {
                await TestSchemas.ExecuteAsync(admin, $"alter database \"{name}\" with is_template false", CancellationToken.None);
                await PostgresEngineTests.DropIfExistsAsync(name);
            }
        }
    }

    private static async Task<TestDatabasePool> CreatePoolAsync(string schemaName, int seed, int? keep = 2, ChaosModes chaos = ChaosModes.Identities, ListLoggerFactory? log = null)
    {
        var schema = SchemaSource.FromDelegate(schemaName, "1", (connection, ct) => TestSchemas.ExecuteAsync(connection, TestSchemas.ItemsTable, ct));
        var engine = await PostgresTestServer.CreateEngineAsync(o => o.KeepSupersededTemplates = keep);
        var options = TestSchemas.Options(schema, poolSize: 1);
        options.Chaos = chaos;
        options.Seed = seed;
        options.LoggerFactory = log;
        var pool = await TestDatabasePool.CreateAsync(engine, options, Token);
        TestTemplateCleanup.Track(pool.Template.Name);
        return pool;
    }

    /// <summary>The killed process's session may take a moment to end on the server, and its shared use lock with it.</summary>
    private static async Task WaitUntilUnusedAsync(string fingerprint)
    {
        var key = PostgresEngine.TemplateUseKey(fingerprint);
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

            Assert.True(DateTime.UtcNow < deadline, $"the use lock of {fingerprint} is still held {Patience.TotalSeconds:0} s after its process was killed");
            await Task.Delay(100, Token);
        }
    }
}
