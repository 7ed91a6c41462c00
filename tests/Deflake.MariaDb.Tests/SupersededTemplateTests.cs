using System.Globalization;
using Deflake.MariaDb.Internal;
using Deflake.Testing;

namespace Deflake.MariaDb.Tests;

/// <summary>
/// Templates of one lineage (same schema name and chaos modes, any version or seed) supersede each other: a pool start
/// keeps the two most recently used others and drops the rest that no live pool uses (registered use locks all free).
/// </summary>
public sealed class SupersededTemplateTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_fourth_template_of_a_lineage_drops_the_oldest_and_keeps_the_two_most_recent_and_itself()
    {
        var lineage = "supersede-" + Guid.NewGuid().ToString("N");
        var made = new List<string>();
        try
        {
            for (var seed = 1; seed <= 3; seed++)
            {
                await using var pool = await CreatePoolAsync(lineage, seed);
                Assert.True(pool.Template.WasBuilt);
                made.Add(pool.Template.Name);
            }

            await using var fourth = await CreatePoolAsync(lineage, 4);
            made.Add(fourth.Template.Name);

            var names = await MariaDbTestServer.DatabaseNamesAsync("deflake_tpl_", Token);
            Assert.DoesNotContain(made[0], names);
            Assert.Equal(0L, await RegistryCountAsync(made[0]));
            Assert.Contains(made[1], names);
            Assert.Contains(made[2], names);
            Assert.Contains(fourth.Template.Name, names);
            Assert.True(fourth.OrphansRemoved >= 1);
        }
        finally
        {
            await DropAsync(made);
        }
    }

    [Fact]
    public async Task A_superseded_template_a_live_pool_of_this_process_uses_is_kept_until_that_pool_is_disposed()
    {
        var lineage = "supersede-live-" + Guid.NewGuid().ToString("N");
        var live = await CreatePoolAsync(lineage, 1);
        var made = new List<string> { live.Template.Name };
        try
        {
            await using (var pool = await CreatePoolAsync(lineage, 2, keep: 0))
            {
                made.Add(pool.Template.Name);
            }

            await using (var third = await CreatePoolAsync(lineage, 3, keep: 0))
            {
                made.Add(third.Template.Name);
                var names = await MariaDbTestServer.DatabaseNamesAsync("deflake_tpl_", Token);
                Assert.Contains(live.Template.Name, names);
                Assert.DoesNotContain(made[1], names);
                await using var database = await live.RentAsync(Token); // still clonable
            }

            await live.DisposeAsync();
            await using (var again = await CreatePoolAsync(lineage, 3, keep: 0))
            {
                Assert.False(again.Template.WasBuilt);
                var names = await MariaDbTestServer.DatabaseNamesAsync("deflake_tpl_", Token);
                Assert.DoesNotContain(live.Template.Name, names);
                Assert.Contains(again.Template.Name, names);
            }
        }
        finally
        {
            await live.DisposeAsync();
            await DropAsync(made);
        }
    }

    [Fact]
    public async Task A_superseded_template_another_process_uses_is_kept_until_that_process_is_killed()
    {
        var lineage = "supersede-process-" + Guid.NewGuid().ToString("N");
        var made = new List<string>();
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal) { [DeflakeEnvironment.MariaDb] = await MariaDbTestServer.GetAdminConnectionStringAsync(Token) };
        string held;
        try
        {
            await using (var host = HostChild.Start("hold-template", ["mariadb", lineage, "1", "1"], environment))
            {
                held = (await host.ReadLineStartingAsync("template ", Patience))["template ".Length..].Trim();
                made.Add(held);
                await host.ReadLineStartingAsync("ready", Patience);

                for (var seed = 2; seed <= 3; seed++)
                {
                    await using var pool = await CreatePoolAsync(lineage, seed);
                    made.Add(pool.Template.Name);
                }

                // Seeds 3 and 2 are the two most recently used others; seed 1 is superseded, but the other process uses it.
                await using (var fourth = await CreatePoolAsync(lineage, 4))
                {
                    made.Add(fourth.Template.Name);
                    Assert.Contains(held, await MariaDbTestServer.DatabaseNamesAsync(held, Token));
                }

                await host.KillAsync();
            }

            // The server ends the killed client's session (and frees its lock) a moment after the kill.
            var names = await MariaDbTestServer.DatabaseNamesAsync(held, Token);
            for (var attempt = 0; attempt < 100 && names.Contains(held); attempt++)
            {
                await using (var next = await CreatePoolAsync(lineage, 4))
                {
                    Assert.False(next.Template.WasBuilt);
                }

                names = await MariaDbTestServer.DatabaseNamesAsync(held, Token);
                if (names.Contains(held))
                {
                    await Task.Delay(100, Token);
                }
            }

            Assert.DoesNotContain(held, names);
            Assert.Equal(0L, await RegistryCountAsync(held));
        }
        finally
        {
            await DropAsync(made);
        }
    }

    [Fact]
    public async Task Templates_of_another_lineage_and_databases_not_in_the_registry_are_never_superseded()
    {
        var suffix = Guid.NewGuid().ToString("N");
        var lineage = "supersede-mine-" + suffix;
        var made = new List<string>();
        var foreign = $"deflake_tpl_{suffix[..20]}";
        try
        {
            await using (var pool = await CreatePoolAsync(lineage, 1, chaos: ChaosModes.None))
            {
                made.Add(pool.Template.Name);
            }

            await using (var pool = await CreatePoolAsync("supersede-other-" + suffix, 1))
            {
                made.Add(pool.Template.Name);
            }

            // Looks like a template, but Deflake's registry does not know it.
            await MariaDbTestServer.ExecuteAsync($"CREATE DATABASE {Quote.Identifier(foreign)}", Token);

            string first;
            await using (var pool = await CreatePoolAsync(lineage, 1, keep: 0))
            {
                first = pool.Template.Name;
                made.Add(first);
            }

            await using var second = await CreatePoolAsync(lineage, 2, keep: 0);
            made.Add(second.Template.Name);

            var names = await MariaDbTestServer.DatabaseNamesAsync("deflake_tpl_", Token);
            Assert.DoesNotContain(first, names); // the rule did run
            Assert.Contains(made[0], names);
            Assert.Contains(made[1], names);
            Assert.Contains(foreign, names);
        }
        finally
        {
            made.Add(foreign);
            await DropAsync(made);
        }
    }

    [Fact]
    public async Task A_template_of_an_older_build_without_a_lineage_is_left_to_the_age_rule()
    {
        // Older templates have no lineage: the rule never selects them, whatever their schema name.
        var lineage = "supersede-old-" + Guid.NewGuid().ToString("N");
        var made = new List<string>();
        try
        {
            await using (var pool = await CreatePoolAsync(lineage, 1))
            {
                made.Add(pool.Template.Name);
            }

            await MariaDbTestServer.ExecuteAsync($"UPDATE deflake_registry.`databases` SET lineage = NULL WHERE name = {Quote.Literal(made[0])}", Token);
            await using (var pool = await CreatePoolAsync(lineage, 2, keep: 0))
            {
                made.Add(pool.Template.Name);
            }

            Assert.Contains(made[0], await MariaDbTestServer.DatabaseNamesAsync(made[0], Token));
            Assert.Equal(1L, Convert.ToInt64(await MariaDbTestServer.ScalarAsync(
                "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'deflake_registry' AND TABLE_NAME = 'databases' AND COLUMN_NAME = 'lineage'", Token),
                CultureInfo.InvariantCulture));
        }
        finally
        {
            await DropAsync(made);
        }
    }

    private static async Task<TestDatabasePool> CreatePoolAsync(string schemaName, int seed, int? keep = 2, ChaosModes chaos = ChaosModes.Identities)
    {
        var schema = SchemaSource.FromDelegate(schemaName, "1", async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL)";
            await command.ExecuteNonQueryAsync(ct);
        });
        var engine = await MariaDbTestServer.CreateEngineAsync(o => o.KeepSupersededTemplates = keep);
        return await TestDatabasePool.CreateAsync(engine, MariaDbEngineTests.Options(schema, chaos, seed), Token);
    }

    private static async Task<long> RegistryCountAsync(string name)
        => Convert.ToInt64(await MariaDbTestServer.ScalarAsync($"SELECT COUNT(*) FROM deflake_registry.`databases` WHERE name = {Quote.Literal(name)}", Token), CultureInfo.InvariantCulture);

    private static async Task DropAsync(IEnumerable<string> names)
    {
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            await MariaDbTestServer.ExecuteAsync(
                $"DROP DATABASE IF EXISTS {Quote.Identifier(name)}; DELETE FROM deflake_registry.`databases` WHERE name = {Quote.Literal(name)}", CancellationToken.None);
        }
    }
}
