using Deflake.Chaos.Stories;

namespace Deflake.Postgres.Tests.Chaos;

public sealed class PostgresIdentityChaosTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_audit_row_looked_up_by_the_wrong_id_is_found_without_chaos()
    {
        Assert.True(await PostgresChaosPools.WithDatabaseAsync(ChaosModes.None, 1,
            (_, connection) => ChaosStories.AuditRowFoundByTheWrongIdAsync(connection, Token)));
    }

    [Fact]
    public async Task The_audit_row_looked_up_by_the_wrong_id_is_missed_under_identities_for_100_of_100_seeds()
    {
        var passed = await PostgresChaosPools.EngineSeedsWhereAsync(ChaosModes.Identities, 100,
            connection => ChaosStories.AuditRowFoundByTheWrongIdAsync(connection, Token));

        Assert.Empty(passed);
    }

    [Fact]
    public async Task Serial_and_identity_columns_start_at_their_planned_start_and_keep_it_after_truncate_restart_identity()
    {
        var plan = IdentityRangePlan.Create(7, ["public.audit_log.id", "public.bars.id", "public.foos.id", "public.tags.id"]);
        var (first, afterTruncate, tag) = await PostgresChaosPools.WithDatabaseAsync(ChaosModes.Identities, 7, async (_, connection) =>
        {
            var first = await ChaosStories.CreateFooAsync(connection, "x", Token);
            await ChaosStories.ExecuteAsync(connection, "TRUNCATE foos, bars, audit_log RESTART IDENTITY", Token);
            var afterTruncate = await ChaosStories.CreateFooAsync(connection, "y", Token);
            var tag = await ChaosStories.ScalarAsync(connection, "INSERT INTO tags (name) VALUES ('new') RETURNING id", Token);
            return (first, afterTruncate, tag);
        });

        Assert.Equal((plan.StartOf("public.foos.id"), plan.StartOf("public.bars.id")), first);
        Assert.Equal(first, afterTruncate);
        Assert.Equal(plan.StartOf("public.tags.id"), tag);
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_ids_and_another_seed_others()
    {
        Task<(long, long)> IdsAsync(int seed) => PostgresChaosPools.WithDatabaseAsync(ChaosModes.Identities, seed,
            (_, connection) => ChaosStories.CreateFooAsync(connection, "x", Token));

        var first = await IdsAsync(21);
        Assert.Equal(first, await IdsAsync(21));
        Assert.NotEqual(first, await IdsAsync(22));
    }

    [Fact]
    public async Task A_sequence_too_small_for_a_range_is_named_on_the_template_built_and_on_the_template_reused()
    {
        // A fresh schema version: this test builds its template, then a second pool reuses it (the template takes no
        // connections: what it does not cover comes from its marker).
        var schema = SchemaSource.FromDelegate("pg-uncovered", Guid.NewGuid().ToString("N"), async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE counters (id smallserial PRIMARY KEY); CREATE TABLE foos (id serial PRIMARY KEY)";
            await command.ExecuteNonQueryAsync(ct);
        });
        async Task<EngineTemplate> TemplateAsync()
        {
            await using var pool = await TestDatabasePool.CreateAsync(new PostgresEngine(), new TestDatabaseOptions
            {
                Schema = schema, Chaos = ChaosModes.Identities, Seed = 9, PoolSize = 1, RemoveOrphansOnStart = false,
            }, Token);
            TestTemplateCleanup.Track(pool.Template.Name);
            return pool.Template;
        }

        var built = await TemplateAsync();
        var reused = await TemplateAsync();

        Assert.Equal((true, false), (built.WasBuilt, reused.WasBuilt));
        NotCoveredKey[] expected = [new("public.counters.id", "its sequence stops at 32767")];
        Assert.Equal(expected, built.IdentitiesNotCovered);
        Assert.Equal(expected, reused.IdentitiesNotCovered);
    }
}
