using Deflake.Cli.Hunting;

namespace Deflake.Cli.Tests.Hunting;

/// <summary>Brittle tests and their state-setters, and victims with more than one polluter (issue 15, items 3 and 4).</summary>
public sealed class StateSettersAndPollutersTests
{
    private const string Setter = "Catalog.SeedTests.Seeds_the_catalog";
    private const string Brittle = "Catalog.ListTests.Lists_the_seeded_products";
    private const string OrdersPolluter = "Billing.OrderTests.Leaves_an_order";
    private const string RefundsPolluter = "Refunds.RefundTests.Leaves_a_refund";
    private const string TwiceVictim = "Reports.EmptyTests.A_new_shop_reports_nothing";

    private static SyntheticRunner WithOthers(SyntheticRunner runner, int count)
    {
        foreach (var i in Enumerable.Range(0, count))
        {
            runner.Add($"Other{i:D2}.Tests.Ok");
        }

        return runner;
    }

    /// <summary>The smallest prefix of a one-at-a-time survey run in which the test failed.</summary>
    private static IReadOnlyList<string> SmallestFailingPrefix(HuntOutcome outcome, string test)
        => outcome.Runs.Take(outcome.SurveyRunCount).Where(r => !r.Request.Parallel && r.FailedTest(test))
            .Select(r => r.RanBefore(test)).OrderBy(p => p.Count).First();

    [Theory]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(20251121)]
    public async Task A_brittle_test_that_fails_alone_is_reported_with_the_state_setter_that_makes_it_pass(int seed)
    {
        // It passes only when the seeding test ran before it in the same process: in parallel runs it is always
        // preceded (every test counts as running), one at a time only in some orders.
        var runner = WithOthers(new SyntheticRunner(), 8)
            .Add(Setter)
            .Add(Brittle, (r, before) => !before.Contains(Setter), "Assert.NotEmpty() Failure: Collection was empty");

        var outcome = await new Hunter(runner, new HuntOptions(seed, HuntOptions.DefaultRandomOrders, [], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        var finding = Assert.Single(outcome.Findings);
        Assert.Empty(outcome.AlwaysFailing);
        Assert.Equal((Brittle, FlakeCause.TestOrder, TestOrderRole.Brittle, Setter), (finding.Test, finding.Cause, finding.Role, finding.StateSetter));
        Assert.Null(finding.Polluter); // the setter is not a polluter: the old field keeps its meaning
        Assert.Equal([Setter], finding.StateSetters);
        Assert.Contains($"names the state-setter {Setter}", finding.Evidence, StringComparison.Ordinal);
        // Confirmed like a polluter: it failed alone 3 times and passed after the setter 3 times in runs made for it.

        Assert.True(outcome.Runs.Count(r => !r.Request.Parallel && r.FailedTest(Brittle) && r.RanBefore(Brittle).Count == 0) >= OrderEvidence.Confirmations);
        Assert.True(outcome.Runs.Count(r => r.Request.Name.StartsWith("confirm: after the state-setter", StringComparison.Ordinal) && r.PassedTest(Brittle)) >= OrderEvidence.Confirmations);
        Assert.Equal("replay alone", finding.Reproduce); // the replay that fails: it alone

    }

    [Fact]
    public async Task A_test_failing_alone_whose_passes_no_test_explains_is_not_called_brittle()
    {
        // It passes now and then whatever ran before it: no setter survives the confirmation.
        var random = new Random(5);
        var runner = WithOthers(new SyntheticRunner(), 6).Add("Clock.Tests.Mostly_fails", (_, _) => random.NextDouble() < 0.8);

        var outcome = await new Hunter(runner, new HuntOptions(5, HuntOptions.DefaultRandomOrders, [], "S")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.DoesNotContain(outcome.Findings, f => f.Cause == FlakeCause.TestOrder || f.StateSetter is not null);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public async Task Two_polluters_in_different_classes_are_both_named_even_when_the_first_failing_list_holds_only_one(int seed)
    {
        var runner = WithOthers(new SyntheticRunner(), 10)
            .Add(OrdersPolluter)
            .Add(RefundsPolluter)
            .Add(TwiceVictim, (_, before) => before.Contains(OrdersPolluter) || before.Contains(RefundsPolluter));

        var outcome = await new Hunter(runner, new HuntOptions(seed, HuntOptions.DefaultRandomOrders, [], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        // The case this is about: the smallest list it failed after holds one of the two only.
        var smallest = SmallestFailingPrefix(outcome, TwiceVictim);
        Assert.NotEqual(smallest.Contains(OrdersPolluter), smallest.Contains(RefundsPolluter));
        var finding = Assert.Single(outcome.Findings);
        Assert.Equal((FlakeCause.TestOrder, TestOrderRole.Polluted), (finding.Cause, finding.Role));
        Assert.Equal([OrdersPolluter, RefundsPolluter], finding.Polluters.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(finding.Polluter, finding.Polluters[0]);
        Assert.Equal(finding.Polluters.Skip(1), finding.OtherPolluters);
        // The second is confirmed like the first: 3 fresh runs after it.
        var second = finding.Polluters[1];
        Assert.True(outcome.Runs.Count(r => r.Request.Name == "confirm: after the polluter" && r.Request.Tests is [var p, TwiceVictim] && p == second && r.FailedTest(TwiceVictim)) >= OrderEvidence.Confirmations);
    }

    [Fact]
    public async Task A_second_polluter_that_only_ever_ran_alongside_the_first_is_found_by_checking_the_victim_without_the_first()
    {
        // The first seed whose survey is the case: every run one at a time where it failed had the same polluter
        // before it, so no failure is left unexplained; the other shows only when it is run without that one.
        foreach (var seed in Enumerable.Range(1, 80))
        {
            var runner = WithOthers(new SyntheticRunner(), 10)
                .Add(OrdersPolluter)
                .Add(RefundsPolluter)
                .Add(TwiceVictim, (_, before) => before.Contains(OrdersPolluter) || before.Contains(RefundsPolluter));

            var outcome = await new Hunter(runner, new HuntOptions(seed, HuntOptions.DefaultRandomOrders, [], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

            var failures = outcome.Runs.Take(outcome.SurveyRunCount).Where(r => !r.Request.Parallel && r.FailedTest(TwiceVictim)).Select(r => r.RanBefore(TwiceVictim)).ToArray();
            var always = new[] { OrdersPolluter, RefundsPolluter }.Where(p => failures.All(f => f.Contains(p))).ToArray();
            if (always.Length != 1)
            {
                continue;
            }

            var finding = Assert.Single(outcome.Findings);
            Assert.Equal([OrdersPolluter, RefundsPolluter], finding.Polluters.Order(StringComparer.Ordinal));
            var check = Assert.Single(outcome.Runs, r => r.Request.Name == "replay without the polluters found");
            Assert.DoesNotContain(always[0], check.Request.Tests!);
            Assert.True(check.FailedTest(TwiceVictim));
            return;
        }

        Assert.Fail("no seed from 1 to 80 gave a survey where one polluter ran before every failure");
    }

    [Fact]
    public async Task The_search_for_more_polluters_costs_no_run_when_every_failure_is_explained()
    {
        var runner = WithOthers(new SyntheticRunner(), 10)
            .Add(OrdersPolluter)
            .Add(TwiceVictim, (_, before) => before.Contains(OrdersPolluter));

        var outcome = await new Hunter(runner, new HuntOptions(2, HuntOptions.DefaultRandomOrders, [], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        var finding = Assert.Single(outcome.Findings);
        Assert.Equal([OrdersPolluter], finding.Polluters);
        Assert.DoesNotContain(outcome.Runs, r => r.Request.Name.Contains("without the polluters found", StringComparison.Ordinal));
        Assert.Contains(finding.Steps, s => s.StartsWith("other polluters: none left to look for", StringComparison.Ordinal));
    }
}
