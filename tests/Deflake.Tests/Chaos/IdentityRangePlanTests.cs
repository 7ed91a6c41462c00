namespace Deflake.Tests.Chaos;

public sealed class IdentityRangePlanTests
{
    private static readonly string[] Tables = [.. Enumerable.Range(1, 300).Select(i => $"table_{i:000}")];

    [Fact]
    public void Every_table_gets_its_own_slot_far_from_every_other_and_within_32_bits()
    {
        var plan = IdentityRangePlan.Create(12345, Tables);

        var starts = plan.Starts.Values.Order().ToArray();
        Assert.Equal(Tables.Length, starts.Length);
        Assert.All(starts, s => Assert.InRange(s, IdentityRangePlan.Spacing, int.MaxValue - IdentityRangePlan.Spacing));
        Assert.All(starts.Zip(starts.Skip(1)), pair => Assert.True(pair.Second - pair.First > IdentityRangePlan.Spacing - IdentityRangePlan.MaxOffset));
    }

    [Fact]
    public void The_same_seed_gives_the_same_starts_whatever_the_order_of_the_tables()
    {
        var plan = IdentityRangePlan.Create(7, Tables);
        var again = IdentityRangePlan.Create(7, Tables.Reverse());

        Assert.Equal(plan.Starts.OrderBy(p => p.Key, StringComparer.Ordinal), again.Starts.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void Another_seed_gives_other_starts()
    {
        var a = IdentityRangePlan.Create(1, ["foos", "bars"]);
        var b = IdentityRangePlan.Create(2, ["foos", "bars"]);

        Assert.NotEqual(a.StartOf("foos"), b.StartOf("foos"));
        Assert.NotEqual(a.StartOf("foos"), a.StartOf("bars"));
    }

    [Fact]
    public void Two_paired_tables_never_share_a_start_for_any_of_1000_seeds()
    {
        for (var seed = 0; seed < 1000; seed++)
        {
            var plan = IdentityRangePlan.Create(seed, ["foos", "bars"]);
            Assert.True(Math.Abs(plan.StartOf("foos") - plan.StartOf("bars")) >= IdentityRangePlan.Spacing - IdentityRangePlan.MaxOffset);
        }
    }

    [Fact]
    public void More_tables_than_slots_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => IdentityRangePlan.Create(1, Enumerable.Range(0, IdentityRangePlan.Slots + 1).Select(i => $"t{i}")));

        Assert.Contains("at most 2000", error.Message, StringComparison.Ordinal);
    }
}
