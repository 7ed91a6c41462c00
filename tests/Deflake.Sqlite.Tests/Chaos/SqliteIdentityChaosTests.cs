using Deflake.Chaos.Stories;

namespace Deflake.Sqlite.Tests.Chaos;

public sealed class SqliteIdentityChaosTests : IAsyncLifetime
{
    private readonly SqliteChaosPools _pools = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _pools.DisposeAsync();

    [Fact]
    public async Task The_audit_row_looked_up_by_the_wrong_id_is_found_without_chaos()
    {
        var holds = await _pools.WithDatabaseAsync(ChaosModes.None, 1, async database =>
        {
            await using var connection = await database.OpenConnectionAsync(TestContext.Current.CancellationToken);
            return await ChaosStories.AuditRowFoundByTheWrongIdAsync(connection, TestContext.Current.CancellationToken);
        });

        Assert.True(holds);
    }

    [Fact]
    public async Task The_audit_row_looked_up_by_the_wrong_id_is_missed_under_identities_for_100_of_100_seeds()
    {
        var passed = new List<int>();
        for (var seed = 1; seed <= 100; seed++)
        {
            var holds = await _pools.WithDatabaseAsync(ChaosModes.Identities, seed, async database =>
            {
                await using var connection = await database.OpenConnectionAsync(TestContext.Current.CancellationToken);
                return await ChaosStories.AuditRowFoundByTheWrongIdAsync(connection, TestContext.Current.CancellationToken);
            });
            if (holds)
            {
                passed.Add(seed);
            }
        }

        Assert.Empty(passed);
    }

    [Fact]
    public async Task Each_autoincrement_table_starts_at_its_planned_start_and_the_same_seed_gives_the_same_ids()
    {
        async Task<(long Foo, long Bar)> FirstIdsAsync(int seed) => await _pools.WithDatabaseAsync(ChaosModes.Identities, seed, async database =>
        {
            await using var connection = await database.OpenConnectionAsync(TestContext.Current.CancellationToken);
            return await ChaosStories.CreateFooAsync(connection, "x", TestContext.Current.CancellationToken);
        });

        var plan = IdentityRangePlan.Create(7, ["audit_log", "bars", "foos"]);
        var first = await FirstIdsAsync(7);
        var again = await FirstIdsAsync(7);
        var other = await FirstIdsAsync(8);

        Assert.Equal((plan.StartOf("foos"), plan.StartOf("bars")), first);
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public async Task Rowid_tables_without_autoincrement_are_reported_by_name_as_not_covered()
    {
        var (pool, engine) = await _pools.CreateAsync(ChaosModes.Identities, 3);
        await using (pool)
        {
            Assert.Equal(["audit_log", "bars", "foos"], engine.IdentityChaos.Starts.Keys.Order(StringComparer.Ordinal));
            var notCovered = Assert.Single(engine.IdentityChaos.NotCovered);
            Assert.Equal(new NotCoveredKey("tags", "no counter: INTEGER PRIMARY KEY without AUTOINCREMENT"), notCovered);
        }
    }

    [Fact]
    public async Task The_pool_learns_the_tables_not_covered_from_the_template_built_and_from_the_template_reused()
    {
        var (first, _) = await _pools.CreateAsync(ChaosModes.Identities, 4);
        await using (first)
        {
            var (second, _) = await _pools.CreateAsync(ChaosModes.Identities, 4);
            await using (second)
            {
                Assert.False(second.Template.WasBuilt);
                NotCoveredKey[] expected = [new("tags", "no counter: INTEGER PRIMARY KEY without AUTOINCREMENT")];
                Assert.Equal(expected, first.Template.IdentitiesNotCovered);
                Assert.Equal(expected, second.Template.IdentitiesNotCovered);
            }
        }
    }

    [Fact]
    public async Task Without_identities_the_report_is_empty()
    {
        var (pool, engine) = await _pools.CreateAsync(ChaosModes.Rows, 3);
        await using (pool)
        {
            Assert.Empty(engine.IdentityChaos.Starts);
            Assert.Empty(engine.IdentityChaos.NotCovered);
            Assert.Empty(pool.Template.IdentitiesNotCovered);
        }
    }
}
