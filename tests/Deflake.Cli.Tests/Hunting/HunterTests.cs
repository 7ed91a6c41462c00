using Deflake.Cli.Hunting;

namespace Deflake.Cli.Tests.Hunting;

public sealed class HunterTests
{
    private const string IdMixUp = "Shop.AuditTests.Id_mix_up";
    private const string Unordered = "Shop.CustomerTests.Unordered_read";
    private const string Polluter = "Shop.SharedTests.Leaves_a_customer";
    private const string Victim = "Shop.SharedTests.Expects_no_customers";
    private const string RacerA = "Shop.ChargeTests.Charge";
    private const string RacerB = "Shop.RefundTests.Refund";
    private const string Flaky = "Shop.ClockTests.Sometimes";

    private static (SyntheticRunner Runner, string[] Correct) Shop()
    {
        var runner = new SyntheticRunner();
        var correct = Enumerable.Range(0, 20).Select(i => $"Shop.CorrectTests.Test{i:D2}").ToArray();
        var flakyCalls = 0;
        foreach (var test in correct.Take(10))
        {
            runner.Add(test);
        }

        runner.Add(IdMixUp, (r, _) => r.Chaos.Contains("identities", StringComparison.Ordinal));
        runner.Add(Unordered, (r, _) => r.Chaos.Contains("rows", StringComparison.Ordinal));
        runner.Add(Victim, (_, before) => before.Contains(Polluter));
        runner.Add(Polluter);
        runner.Add(RacerA, (r, others) => r.Parallel && others.Contains(RacerB));
        runner.Add(RacerB, (r, others) => r.Parallel && others.Contains(RacerA));
        runner.Add(Flaky, (_, _) => ++flakyCalls == 2);
        foreach (var test in correct.Skip(10))
        {
            runner.Add(test);
        }

        return (runner, correct);
    }

    [Fact]
    public async Task Every_planted_cause_is_named_and_no_correct_test_is_flagged()
    {
        var (runner, correct) = Shop();

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        var causes = outcome.Findings.ToDictionary(f => f.Test, f => f.Cause);
        Assert.Equal(FlakeCause.IdentityAlignment, causes[IdMixUp]);
        Assert.Equal(FlakeCause.RowOrder, causes[Unordered]);
        Assert.Equal(FlakeCause.TestOrder, causes[Victim]);
        Assert.Equal(FlakeCause.ParallelCollision, causes[RacerA]);
        Assert.Equal(FlakeCause.ParallelCollision, causes[RacerB]);
        Assert.Equal(FlakeCause.Nondeterministic, causes[Flaky]);
        Assert.DoesNotContain(Polluter, causes.Keys);
        Assert.Empty(causes.Keys.Intersect(correct));
        Assert.Empty(outcome.AlwaysFailing);
    }

    [Fact]
    public async Task The_order_dependent_test_names_its_polluter_and_a_replay_of_the_two()
    {
        var (runner, _) = Shop();

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        var finding = Assert.Single(outcome.Findings, f => f.Test == Victim);
        Assert.Equal(Polluter, finding.Polluter);
        Assert.Contains(runner.Requests, r => r.Tests is [Polluter, Victim]);
    }

    [Fact]
    public async Task A_parallel_collision_names_the_test_it_collides_with()
    {
        var (runner, _) = Shop();

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal(RacerB, Assert.Single(outcome.Findings, f => f.Test == RacerA).Polluter);
        Assert.Equal(RacerA, Assert.Single(outcome.Findings, f => f.Test == RacerB).Polluter);
    }

    [Fact]
    public async Task A_test_that_fails_every_time_is_reported_as_failing_not_flaky()
    {
        var runner = new SyntheticRunner().Add("A.Ok").Add("A.Broken", (_, _) => true).Add("A.AlsoOk");

        var outcome = await new Hunter(runner, new HuntOptions(1, 1, ["rows"], "A")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Empty(outcome.Findings);
        Assert.Equal(["A.Broken"], outcome.AlwaysFailing);
    }

    [Fact]
    public async Task A_clean_suite_takes_one_run_per_mode_and_order_plus_the_baseline()
    {
        var runner = new SyntheticRunner().Add("A.One").Add("A.Two").Add("B.Three");

        var outcome = await new Hunter(runner, new HuntOptions(1, 3, ["identities", "rows"], "A")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Empty(outcome.Findings);
        Assert.Equal(1 + 2 + 1 + 3, outcome.Runs.Count);
        Assert.Equal(outcome.Runs.Count, outcome.SurveyRunCount);
    }

    [Fact]
    public async Task Random_orders_use_consecutive_seeds_from_the_hunt_seed()
    {
        var runner = new SyntheticRunner().Add("A.One");

        await new Hunter(runner, new HuntOptions(100, 3, [], "A")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal([100, 101, 102], runner.Requests.Where(r => r.Order == Running.RunOrderKind.Random).Select(r => r.Seed));
    }
}
