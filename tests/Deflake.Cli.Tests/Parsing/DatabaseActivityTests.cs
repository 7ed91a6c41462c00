using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Parsing;

public sealed class DatabaseActivityTests
{
    [Fact]
    public void A_process_that_reported_only_itself_used_no_database_and_checked_nothing()
    {
        var activity = DatabaseActivity.Parse(["process"])!;

        Assert.False(activity.RentedUnderChaos);
        Assert.Equal("no test used a Deflake database — nothing was checked", activity.NothingChecked);
    }

    [Fact]
    public void A_pool_under_chaos_that_rented_nothing_checked_nothing()
    {
        var activity = DatabaseActivity.Parse(["process", "pool\trows"])!;

        Assert.False(activity.RentedUnderChaos);
        Assert.Equal("a Deflake pool started, but no test rented a database from it — nothing was checked", activity.NothingChecked);
    }

    [Fact]
    public void A_rent_under_chaos_is_a_check_and_a_rent_without_chaos_is_not()
    {
        Assert.True(DatabaseActivity.Parse(["process", "pool\tnone", "pool\tidentities", "rent\tnone", "rent\tidentities"])!.RentedUnderChaos);
        Assert.False(DatabaseActivity.Parse(["process", "pool\tnone", "rent\tnone"])!.RentedUnderChaos);
    }

    [Fact]
    public void A_process_that_reported_nothing_is_unknown_not_unchecked()
    {
        Assert.Null(DatabaseActivity.Parse([]));
        var run = new RunResult(new RunRequest("chaos rows", RunOrderKind.Default, "rows", 1, Parallel: true), [], TimeSpan.Zero, "replay");
        Assert.Null(run.ChaosReached);
        Assert.False((run with { Activity = DatabaseActivity.Parse(["process"]) }).ChaosReached);
    }
}
