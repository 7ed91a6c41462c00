using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

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

        // The suite's size comes from the baseline's results: no listing process.
        Assert.Equal(0, runner.Listings);
        Assert.Equal(27, outcome.TestCount);
    }

    [Fact]
    public async Task The_order_dependent_test_names_its_polluter_and_a_replay_of_the_two()
    {
        var (runner, _) = Shop();

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        var finding = Assert.Single(outcome.Findings, f => f.Test == Victim);
        Assert.Equal(Polluter, finding.Polluter);
        // The replay of the two (chaos suspects may ride along after the victim: nothing after it changes its result).
        Assert.Contains(runner.Requests, r => r.Tests is [Polluter, Victim, ..]);
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
    public async Task Two_collisions_that_ran_at_the_same_time_are_paired_by_what_their_failures_share_without_a_wrong_pair_run()
    {
        // Both pairs fail together in every parallel run and nothing tells their timings apart; declared so that without
        // the messages and names the first candidate of Charge would be Stock (a wrong pair run).
        const string charge = "Billing.ChargeTests.Charging_the_sandbox_account_lowers_its_balance";
        const string stock = "Reports.StockTests.The_stock_report_offers_three_periods";
        const string refund = "Billing.RefundTests.Refunding_to_the_sandbox_account_raises_its_balance";
        const string sales = "Reports.SalesTests.The_sales_report_offers_three_periods";
        static Func<RunRequest, IReadOnlyList<string>, bool> CollidesWith(string other) => (r, running) => r.Parallel && running.Contains(other);
        var runner = new SyntheticRunner()
            .Add(charge, CollidesWith(refund), "Assert.Equal() Failure: Values differ Expected: 7000 Actual: 9000")
            .Add(stock, CollidesWith(sales), "Assert.Equal() Failure: Values differ Expected: 3 Actual: 6")
            .Add(refund, CollidesWith(charge), "Assert.Equal() Failure: Values differ Expected: 12000 Actual: 9000")
            .Add(sales, CollidesWith(stock), "Assert.Equal() Failure: Values differ Expected: 3 Actual: 6")
            .Add("Billing.Other.Ok");

        var outcome = await new Hunter(runner, new HuntOptions(5, 2, ["rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal(refund, Assert.Single(outcome.Findings, f => f.Test == charge).Polluter);
        Assert.Equal(stock, Assert.Single(outcome.Findings, f => f.Test == sales).Polluter);
        var pairs = runner.Requests.Where(r => r.Name == "pair in parallel").Select(r => string.Join(" + ", r.Tests!.Order(StringComparer.Ordinal))).ToArray();
        Assert.Equal([string.Join(" + ", new[] { charge, refund }.Order(StringComparer.Ordinal)), string.Join(" + ", new[] { stock, sales }.Order(StringComparer.Ordinal))],
            pairs.Order(StringComparer.Ordinal).ToArray());
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

    private static List<RunRequest> Diagnosis(SyntheticRunner runner, HuntOutcome outcome) => runner.Requests.Skip(outcome.SurveyRunCount).ToList();

    [Fact]
    public async Task A_chaos_only_suspect_costs_no_run_alone_without_chaos_and_two_runs_alone_under_its_mode()
    {
        var runner = new SyntheticRunner().Add("A.Ok").Add(IdMixUp, (r, _) => r.Chaos == "identities").Add("B.Ok");

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        var finding = Assert.Single(outcome.Findings);
        Assert.Equal(FlakeCause.IdentityAlignment, finding.Cause);
        // The check and its confirmation (issue 15: the survey's failure and two more, with the survey's seed).
        var runs = Diagnosis(runner, outcome);
        Assert.Equal(["alone, chaos identities", "confirm: alone, chaos identities"], runs.Select(r => r.Name));
        Assert.All(runs, run => Assert.Equal(("identities", false, 7), (run.Chaos, run.Parallel, run.Seed)));
        Assert.All(runs, run => Assert.Equal([IdMixUp], run.Tests!));
        Assert.Contains(finding.Steps, s => s.StartsWith("alone: not run", StringComparison.Ordinal));
        Assert.Contains("Under DEFLAKE_CHAOS=identities (seed 7) it failed 3 times and never passed: in the survey's 'chaos identities', then in 'alone, chaos identities' and 'confirm: alone, chaos identities'", finding.Evidence, StringComparison.Ordinal);
        Assert.Equal("replay alone, chaos identities", finding.Reproduce);
    }

    [Fact]
    public async Task Chaos_suspects_share_two_runs_in_the_order_that_lets_each_count_and_none_runs_alone()
    {
        var runner = new SyntheticRunner()
            .Add("A.First", (r, _) => r.Chaos == "rows")
            .Add("A.Ok")
            .Add("B.Second", (r, _) => r.Chaos == "rows")
            .Add("C.Third", (r, _) => r.Chaos == "rows");

        // Seed 3: 'random #1' runs C.Third, A.First, B.Second, A.Ok; 'random #2' and 'reverse' also run C.Third first.
        var outcome = await new Hunter(runner, new HuntOptions(3, 2, ["rows"], "A")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.All(outcome.Findings, f => Assert.Equal(FlakeCause.RowOrder, f.Cause));
        Assert.Equal(["A.First", "B.Second", "C.Third"], outcome.Findings.Select(f => f.Test).Order());
        var diagnosis = Diagnosis(runner, outcome);
        Assert.All(diagnosis, r => Assert.Equal(("rows", false), (r.Chaos, r.Parallel)));
        // The check and the confirmation, each shared by all three, and no run alone: C.Third first (as good as alone),
        // then A.First, which 'random #1' saw pass after C.Third, then B.Second, which it saw pass after both (inferred).
        // With A.First first instead, C.Third would have counted in neither run (no survey run had it after the others).
        Assert.Equal(["chaos suspects, each under its mode, one at a time", "confirm: chaos suspects, each under its mode, one at a time"], diagnosis.Select(r => r.Name));
        Assert.All(diagnosis, r => Assert.Equal(["C.Third", "A.First", "B.Second"], r.Tests!));
        Assert.All(diagnosis, r => Assert.Equal(3, r.TestChaos!.Count));
        var second = Assert.Single(outcome.Findings, f => f.Test == "B.Second");
        Assert.Contains(second.Steps, s => s.Contains("inferred", StringComparison.Ordinal) && s.Contains("'random #1'", StringComparison.Ordinal));
        Assert.Contains("failed 3 times", second.Evidence, StringComparison.Ordinal);
        // Its command runs it alone under the mode, which the shared runs stand for.
        Assert.Equal("replay alone, chaos rows", second.Reproduce);
        Assert.Contains(second.Steps, s => s.StartsWith("reproduce: runs it alone under chaos rows with seed 3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Chaos_suspects_of_two_modes_share_their_check_and_their_confirmation_each_under_its_own_mode()
    {
        var runner = new SyntheticRunner().Add("A.Ok").Add(IdMixUp, (r, _) => r.Chaos == "identities").Add(Unordered, (r, _) => r.Chaos == "rows").Add("B.Ok");

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal(FlakeCause.IdentityAlignment, Assert.Single(outcome.Findings, f => f.Test == IdMixUp).Cause);
        Assert.Equal(FlakeCause.RowOrder, Assert.Single(outcome.Findings, f => f.Test == Unordered).Cause);
        // One run for both modes' check, one for both modes' confirmation: never a run per mode, nor per test.
        var runs = Diagnosis(runner, outcome);
        Assert.Equal(2, runs.Count);
        Assert.All(runs, run => Assert.False(run.Parallel));
        Assert.All(runs, run => Assert.Equal(("identities", "rows"), (run.TestChaos![IdMixUp], run.TestChaos[Unordered])));

        // Each finding replays alone under its own mode.
        Assert.Equal("replay alone, chaos identities", Assert.Single(outcome.Findings, f => f.Test == IdMixUp).Reproduce);
        Assert.Equal("replay alone, chaos rows", Assert.Single(outcome.Findings, f => f.Test == Unordered).Reproduce);
    }

    [Fact]
    public async Task A_suspect_that_fails_under_chaos_only_after_another_runs_first_in_the_shared_run_and_is_not_blamed_on_chaos()
    {
        // B fails under rows only after A in the same process (state A leaves behind): chaos alone does not break it.
        var runner = new SyntheticRunner()
            .Add("A.Unordered", (r, _) => r.Chaos == "rows")
            .Add("B.AfterA", (r, before) => r.Chaos == "rows" && before.Contains("A.Unordered"))
            .Add("C.Ok");

        // No random orders: 'reverse' runs B before A, so no survey run clears A as what breaks B; it clears B for A.
        var outcome = await new Hunter(runner, new HuntOptions(3, 0, ["rows"], "A")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal(FlakeCause.RowOrder, Assert.Single(outcome.Findings, f => f.Test == "A.Unordered").Cause);
        var b = Assert.Single(outcome.Findings, f => f.Test == "B.AfterA");
        Assert.NotEqual(FlakeCause.RowOrder, b.Cause);
        // The shared run puts B first (as good as alone) and A after it (cleared by 'reverse'): both count there. B passed.
        var shared = Assert.Single(runner.Requests, r => r.Chaos == "rows" && !r.Parallel && r.Tests!.Count == 2);
        Assert.Equal(["B.AfterA", "A.Unordered"], shared.Tests!);
        Assert.Contains(b.Steps, s => s.Contains("with nothing before it: passed; as good as alone", StringComparison.Ordinal));
        // A needs one more failure; B, ruled out, is not run again.
        Assert.Equal([["B.AfterA", "A.Unordered"], ["A.Unordered"]], runner.Requests.Skip(outcome.SurveyRunCount).Where(r => r.Chaos == "rows").Select(r => r.Tests!.ToArray()));
    }

    [Fact]
    public async Task Colliding_tests_cost_one_pair_run_for_both_and_no_rerun_of_the_whole_suite()
    {
        var runner = new SyntheticRunner().Add("A.Ok").Add("B.Ok")
            .Add(RacerA, (r, others) => r.Parallel && others.Contains(RacerB))
            .Add("C.Ok")
            .Add(RacerB, (r, others) => r.Parallel && others.Contains(RacerA));

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal(RacerB, Assert.Single(outcome.Findings, f => f.Test == RacerA).Polluter);
        Assert.Equal(RacerA, Assert.Single(outcome.Findings, f => f.Test == RacerB).Polluter);
        var diagnosis = Diagnosis(runner, outcome);
        // One pair run, and the confirmations it needs (the victim fails in 3 pair runs), shared by the two racers.
        var pairs = diagnosis.Where(r => r.Parallel).ToArray();
        Assert.Equal(OrderEvidence.Confirmations, pairs.Length);
        Assert.All(pairs, pair => Assert.Equal([RacerA, RacerB], pair.Tests!.Order()));

        // Besides, at most a run of the two one after the other, when no survey run had them in the order needed
        // to show that order alone does not break it; never a rerun of the whole suite.
        Assert.All(diagnosis.Where(r => !r.Parallel), r => Assert.Equal(("pair one at a time", 2), (r.Name, r.Tests!.Count)));
        Assert.InRange(diagnosis.Count, OrderEvidence.Confirmations, OrderEvidence.Confirmations + 1);
    }

    [Fact]
    public async Task A_victim_that_passed_right_after_the_test_in_a_survey_run_is_not_blamed_on_it()
    {
        // It fails after the polluter one at a time, except in 'reverse', where the polluter runs right before it and it
        // passes: nothing else differs, so "polluted by it" is contradicted however often the other runs agree.
        var runner = new SyntheticRunner()
            .Add("A.Ok")
            .Add(Victim, (r, before) => !r.Parallel && before.Contains(Polluter) && r.Name != "reverse")
            .Add(Polluter)
            .Add("B.Ok");

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, [], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        var reverse = outcome.Runs.Single(r => r.Request.Name == "reverse");
        Assert.Equal([Polluter], reverse.RanBefore(Victim).Skip(reverse.RanBefore(Victim).Count - 1)); // right before it there
        Assert.True(reverse.PassedTest(Victim));
        var finding = Assert.Single(outcome.Findings);
        Assert.Equal((Victim, FlakeCause.Nondeterministic, (string?)null), (finding.Test, finding.Cause, finding.Polluter));
        Assert.Contains($"in 'reverse' it passed after {Polluter}", finding.Evidence, StringComparison.Ordinal);
        var ran = outcome.Runs.Count(r => r.OutcomeOf(Victim) is not null);
        var failed = outcome.Runs.Count(r => r.FailedTest(Victim));
        Assert.Contains($"failed {failed} of {ran} runs without chaos", finding.Evidence, StringComparison.Ordinal);
        Assert.InRange(failed, 1, ran - 1);
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.5)]
    [InlineData(0.7)]
    public async Task A_test_that_fails_at_random_never_gets_a_polluter(double failureRate)
    {
        var blamed = new List<string>();
        var found = 0;
        foreach (var seed in Enumerable.Range(1, 15))
        {
            var random = new Random(seed);
            var runner = new SyntheticRunner();
            foreach (var i in Enumerable.Range(0, 6))
            {
                runner.Add($"Class{i}.Ok");
            }

            runner.Add("Clock.Sometimes", (_, _) => random.NextDouble() < failureRate);

            var outcome = await new Hunter(runner, new HuntOptions(seed, 3, [], "S")).HuntAsync(TestContext.Current.CancellationToken);

            foreach (var finding in outcome.Findings)
            {
                found++;
                Assert.Equal("Clock.Sometimes", finding.Test);
                if (finding.Polluter is not null || finding.Cause == FlakeCause.TestOrder)
                {
                    blamed.Add($"seed {seed}: {finding.Cause} {finding.Polluter}: {finding.Evidence}");
                }
            }
        }

        Assert.True(found >= 10, $"only {found} of 15 hunts found the random test");
        Assert.Empty(blamed);
    }

    [Fact]
    public async Task A_victim_whose_own_collection_shows_the_polluter_is_replayed_with_it_and_not_bisected()
    {
        // The polluter shares the victim's class and runs before it in the default order; in random orders many
        // tests of other classes run before the victim too.
        var runner = new SyntheticRunner();
        foreach (var i in Enumerable.Range(0, 12))
        {
            runner.Add($"Other{i:D2}.Test");
        }

        runner.Add("Shared.Leaves_a_row").Add("Shared.Expects_no_rows", (_, before) => before.Contains("Shared.Leaves_a_row"));

        var outcome = await new Hunter(runner, new HuntOptions(11, 3, [], "S")).HuntAsync(TestContext.Current.CancellationToken);

        var finding = Assert.Single(outcome.Findings);
        Assert.Equal((FlakeCause.TestOrder, "Shared.Leaves_a_row"), (finding.Cause, finding.Polluter));
        var diagnosis = Diagnosis(runner, outcome);
        Assert.Contains(diagnosis, r => r.Order == Running.RunOrderKind.List && r.Tests is ["Shared.Leaves_a_row", "Shared.Expects_no_rows"]);
        Assert.DoesNotContain(diagnosis, r => r.Name == "bisect");
        // The replay of the two, and the run alone unless the survey showed it; then the confirmation runs, until it
        // passed alone and failed after the polluter 3 times each, counting the survey.
        Assert.InRange(diagnosis.Count(r => !r.Name.StartsWith("confirm", StringComparison.Ordinal)), 1, 2);
        Assert.InRange(diagnosis.Count(r => r.Name.StartsWith("confirm", StringComparison.Ordinal)), OrderEvidence.Confirmations, 2 * OrderEvidence.Confirmations - 1);
        Assert.Contains("passed alone 3 times", finding.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chaos_suspects_ride_along_after_the_order_victim_in_its_run_alone_instead_of_a_run_of_their_own()
    {
        // 'reverse' runs the suspects last, so it clears them of the victim and of each other (in one order).
        var runner = new SyntheticRunner()
            .Add(IdMixUp, (r, _) => r.Chaos == "identities")
            .Add(Unordered, (r, _) => r.Chaos == "rows")
            .Add("A.Ok")
            .Add(Victim, (r, before) => !r.Parallel && before.Contains(Polluter))
            .Add(Polluter)
            .Add("B.Ok");

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal(FlakeCause.IdentityAlignment, Assert.Single(outcome.Findings, f => f.Test == IdMixUp).Cause);
        Assert.Equal(FlakeCause.RowOrder, Assert.Single(outcome.Findings, f => f.Test == Unordered).Cause);
        Assert.Equal((FlakeCause.TestOrder, Polluter), Assert.Single(outcome.Findings, f => f.Test == Victim) is var v ? (v.Cause, v.Polluter) : default);

        // The victim's run alone carries both suspects after it, each under its own mode; the process itself runs
        // without chaos, so the victim does too. No shared chaos run, no run alone under a mode.
        var diagnosis = Diagnosis(runner, outcome);
        var alone = Assert.Single(diagnosis, r => r.Tests![0] == Victim && !r.Name.StartsWith("confirm", StringComparison.Ordinal));
        Assert.Equal(("none", false, RunOrderKind.List), (alone.Chaos, alone.Parallel, alone.Order));
        Assert.Equal([Unordered, IdMixUp], alone.Tests!.Skip(1));
        Assert.Equal("identities", alone.TestChaos![IdMixUp]);
        Assert.Equal("rows", alone.TestChaos[Unordered]);
        Assert.False(alone.TestChaos.ContainsKey(Victim));
        Assert.DoesNotContain(diagnosis, r => r.Chaos != "none");
        // The run alone (with the riders), the replay of the two, the check that it passes without the polluter after
        // the other tests it failed after (issue 15: every polluter), and the runs that confirm it: 3 after the polluter
        // (the runs that named it do not count), alone in turn until it passed alone 3 times.
        Assert.Equal(3, diagnosis.Count(r => !r.Name.StartsWith("confirm", StringComparison.Ordinal)));
        Assert.Single(diagnosis, r => r.Name == "replay without the polluters found" && !r.Tests!.Contains(Polluter));
        Assert.Equal(OrderEvidence.Confirmations, diagnosis.Count(r => r.Name == "confirm: after the polluter"));

        var idMixUp = Assert.Single(outcome.Findings, f => f.Test == IdMixUp);
        // It rode along twice (the check and the confirmation), in runs the order case made anyway.
        Assert.Equal(2, diagnosis.Count(r => r.TestChaos?.ContainsKey(IdMixUp) == true));
        Assert.Contains(idMixUp.Steps, s => s.Contains($"in the bisection's run alone of {Victim}", StringComparison.Ordinal) && s.Contains("inferred", StringComparison.Ordinal));
        Assert.Contains("it failed 3 times and never passed: in the survey's 'chaos identities', then in the bisection's run alone of", idMixUp.Evidence, StringComparison.Ordinal);
        Assert.Equal("replay alone, chaos identities", idMixUp.Reproduce);
        Assert.Contains(idMixUp.Steps, s => s.StartsWith("reproduce:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_victim_that_failed_only_in_parallel_runs_after_its_own_collection_is_diagnosed_before_the_chaos_suspects_which_ride_along()
    {
        // The data bleed of a class sharing one database: it fails whenever the polluter ran before it in its class.
        // The default order (baseline and chaos runs, in parallel) puts the polluter first; 'reverse', the only order
        // one at a time, puts the victim first, so it failed only in parallel runs. The chaos suspect runs last in
        // 'reverse', which clears it of everything.
        var runner = new SyntheticRunner()
            .Add(IdMixUp, (r, _) => r.Chaos == "identities")
            .Add("A.Ok")
            .Add(Polluter)
            .Add(Victim, (r, seen) => seen.ToList() is var order && order.IndexOf(Polluter) is >= 0 and var p && (order.IndexOf(Victim) is var v && (v < 0 || p < v)))
            .Add("B.Ok");

        var outcome = await new Hunter(runner, new HuntOptions(7, 0, ["identities"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal((FlakeCause.TestOrder, Polluter), Assert.Single(outcome.Findings, f => f.Test == Victim) is var v ? (v.Cause, v.Polluter) : default);
        var idMixUp = Assert.Single(outcome.Findings, f => f.Test == IdMixUp);
        Assert.Equal(FlakeCause.IdentityAlignment, idMixUp.Cause);

        // The victim is diagnosed first, and its run alone and its replay carry the suspect (its check and its
        // confirmation): no chaos run of its own.
        var diagnosis = Diagnosis(runner, outcome);
        var carriers = diagnosis.Where(r => r.TestChaos is not null).ToArray();
        Assert.Equal(2, carriers.Length);
        Assert.All(carriers, carrier => Assert.Equal(IdMixUp, carrier.Tests![^1]));
        Assert.All(carriers, carrier => Assert.Equal(("none", "identities"), (carrier.Chaos, carrier.TestChaos![IdMixUp])));
        Assert.Equal([Victim, IdMixUp], carriers[0].Tests);
        Assert.DoesNotContain(diagnosis, r => r.Chaos != "none");
        // The victim's run alone (with the rider), the replay of its collection, then the runs that confirm it.
        Assert.Equal(2, diagnosis.Count(r => !r.Name.StartsWith("confirm", StringComparison.Ordinal)));
        Assert.Contains($"then in the bisection's run alone of {Victim}", idMixUp.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_chaos_suspect_of_the_victims_own_collection_does_not_ride_along()
    {
        // The suspect shares the victim's class: in a list run its class would run after its last listed test, which
        // would move the victim behind it. It gets its own run under its mode.
        const string SameClass = "Shop.SharedTests.Ids_mixed_up";
        var runner = new SyntheticRunner()
            .Add("A.Ok")
            .Add(Victim, (r, before) => before.Contains(Polluter))
            .Add(Polluter)
            .Add(SameClass, (r, _) => r.Chaos == "identities")
            .Add("B.Ok");

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal(FlakeCause.IdentityAlignment, Assert.Single(outcome.Findings, f => f.Test == SameClass).Cause);
        Assert.Equal(Polluter, Assert.Single(outcome.Findings, f => f.Test == Victim).Polluter);
        var diagnosis = Diagnosis(runner, outcome);
        Assert.All(diagnosis.Where(r => r.Tests!.Contains(Victim)), r => Assert.Null(r.TestChaos));
        Assert.Contains(diagnosis, r => r.Chaos == "identities" && r.Tests is [SameClass]);
    }

    [Fact]
    public async Task A_chaos_suspect_that_passes_riding_along_is_not_that_modes_case()
    {
        // It fails under rows only in parallel, next to another test: alone under rows (as good as, after the victim) it passes.
        const string RowsRacer = "Shop.RacerTests.Rows_only_in_parallel";
        var runner = new SyntheticRunner()
            .Add(RowsRacer, (r, others) => r.Chaos == "rows" && r.Parallel && others.Contains("A.Ok"))
            .Add("A.Ok")
            .Add(Victim, (r, before) => !r.Parallel && before.Contains(Polluter))
            .Add(Polluter)
            .Add("B.Ok");

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal(Polluter, Assert.Single(outcome.Findings, f => f.Test == Victim).Polluter);
        var racer = Assert.Single(outcome.Findings, f => f.Test == RowsRacer);
        Assert.NotEqual(FlakeCause.RowOrder, racer.Cause);
        Assert.Contains(racer.Steps, s => s.Contains("in the bisection's run alone of", StringComparison.Ordinal) && s.Contains(": passed; counted", StringComparison.Ordinal));
        Assert.Contains(racer.Steps, s => s.StartsWith("chaos rows: failed 1 time with seed 7", StringComparison.Ordinal) && s.EndsWith("not this mode's case", StringComparison.Ordinal));
        Assert.DoesNotContain(Diagnosis(runner, outcome), r => r.Chaos == "rows");
    }

    [Fact]
    public async Task The_planted_shop_needs_few_runs_beyond_the_survey()
    {
        var (runner, _) = Shop();

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        // Two chaos runs alone, one pair run for the two racers, the order victim's replay and bisection, the
        // nondeterministic test's reruns: before, every suspect also ran alone and the suite was rerun twice.
        // The order victim's polluter is then confirmed: at most 3 runs after it and 2 alone beyond the bisection's;
        // the racers' pair by 2 more pair runs, shared by both.
        Assert.Equal(7, outcome.SurveyRunCount);
        var confirmations = outcome.Runs.Count(r => r.Request.Name.StartsWith("confirm", StringComparison.Ordinal));
        Assert.InRange(confirmations, OrderEvidence.Confirmations + 2, 2 * OrderEvidence.Confirmations - 1 + 2);
        Assert.InRange(outcome.Runs.Count - outcome.SurveyRunCount - confirmations, 4, 11);
    }

    [Fact]
    public async Task Each_survey_run_asks_for_the_next_ones_kind_and_after_the_survey_for_either_kind_when_something_failed()
    {
        var (runner, _) = Shop();
        var hunter = new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop"));

        hunter.StartAhead();
        await hunter.HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal((true, 7), runner.StartedAhead); // the baseline: in parallel, with the hunt's seed
        var survey = runner.Requests.Take(7).ToArray();
        var duringSurvey = runner.Expectations.Where(e => e.RunsBefore < 7).ToArray();
        Assert.Equal(7, duringSurvey.Length);
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(survey[i + 1].Parallel ? RunKinds.Parallel : RunKinds.OneAtATime, duringSurvey[i].Kinds);
        }

        Assert.Equal(RunKinds.Either, duringSurvey[6].Kinds); // tests failed: diagnosis runs of both kinds follow
        Assert.True(runner.Requests.Count > 7);
    }

    [Fact]
    public async Task A_clean_suite_asks_for_no_process_ahead_of_a_run_that_will_not_come()
    {
        var runner = new SyntheticRunner().Add("A.One").Add("A.Two").Add("B.Three");

        var outcome = await new Hunter(runner, new HuntOptions(7, 3, ["identities", "rows"], "Shop")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Empty(outcome.Findings);
        Assert.Equal(7, runner.Requests.Count);
        Assert.Equal(RunKinds.None, runner.Expectations[^1].Kinds);
        Assert.Equal(6, runner.Expectations[^1].RunsBefore); // said before the last survey run started
    }
}
