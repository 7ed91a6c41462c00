using Deflake.Cli.Hunting;

namespace Deflake.Cli.Tests.Hunting;

/// <summary>
/// Every finding is read again at the end of the hunt, over every run it made: a run made after a test was diagnosed
/// (here a collision suspect's, diagnosed last: its pair run, or the whole suite in parallel once more) can contradict
/// its cause, and then the cause is withdrawn, as it would never have been named had that run come first.
/// </summary>
public sealed class RereadTests
{
    private const string Unordered = "Shop.CustomerTests.Unordered_read";
    private const string Charging = "Shop.SandboxTests.Charging_lowers_the_balance";
    private const string Polluter = "Shop.LedgerTests.A_posting_adds_an_entry";
    private const string Victim = "Shop.LedgerTests.B_a_new_ledger_is_empty";
    private const string Once = "Shop.SandboxTests.Failed_in_one_parallel_run";
    private const string Pair = "pair in parallel";
    private const string Again = "parallel again";

    private static SyntheticRunner Correct()
    {
        var runner = new SyntheticRunner();
        foreach (var i in Enumerable.Range(0, 6))
        {
            runner.Add($"Class{i}.Ok");
        }

        return runner;
    }

    /// <summary>
    /// A row-order case by every run until a collision suspect, diagnosed last, runs in parallel with it alone, without
    /// chaos: there it fails too (<paramref name="failsInThePairRun"/>), or not.
    /// </summary>
    private static SyntheticRunner RowOrderCaseAndItsCollisionPartner(bool failsInThePairRun) => Correct()
        .Add(Unordered, (r, _) => r.Chaos == "rows" || (failsInThePairRun && r.Name == Pair))
        .Add(Charging, (r, running) => r.Parallel && running.Contains(Unordered));

    /// <summary>
    /// A victim of its polluter in its class by every run until a test that failed in the one parallel run of the survey
    /// (no chaos modes), diagnosed last, asks for the suite in parallel once more: there it passes right after its polluter
    /// (<paramref name="passesInTheLastRun"/>), or fails as before.
    /// </summary>
    private static SyntheticRunner VictimAndALateParallelRun(bool passesInTheLastRun) => Correct()
        .Add(Polluter)
        .Add(Victim, (r, before) => before.Contains(Polluter) && !(passesInTheLastRun && r.Name == Again))
        .Add(Once, (r, _) => r.Name == "baseline");

    [Fact]
    public async Task A_chaos_cause_is_withdrawn_when_a_later_run_sees_the_test_fail_without_chaos()
    {
        var runner = RowOrderCaseAndItsCollisionPartner(failsInThePairRun: true);

        var outcome = await new Hunter(runner, new HuntOptions(3, 3, ["identities", "rows"], "S")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Contains(runner.Requests, r => r.Name == Pair && r.Chaos == "none" && r.Tests!.Contains(Unordered));
        var finding = Assert.Single(outcome.Findings, f => f.Test == Unordered);
        Assert.Equal((FlakeCause.Nondeterministic, null), (finding.Cause, finding.Polluter));
        // It had been confirmed: the steps still say so, then why the cause went.
        Assert.Contains(finding.Steps, s => s.StartsWith("chaos rows: failed 3 times", StringComparison.Ordinal) && s.EndsWith(": confirmed", StringComparison.Ordinal));
        Assert.Equal($"read again at the end of the hunt: it failed without chaos in '{Pair}'; the cause is withdrawn", finding.Steps[^1]);
        Assert.StartsWith($"Looked like a {FlakeCause.RowOrder} case when it was diagnosed, but a run made later contradicts it: it failed without chaos in '{Pair}'.", finding.Evidence, StringComparison.Ordinal);
        Assert.Matches(@"No cause is named\. It failed \d+ of \d+ runs without chaos\.$", finding.Evidence);
    }

    [Fact]
    public async Task A_polluter_is_withdrawn_when_a_later_run_sees_the_victim_pass_right_after_it()
    {
        var runner = VictimAndALateParallelRun(passesInTheLastRun: true);

        var outcome = await new Hunter(runner, new HuntOptions(5, 3, [], "S")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Contains(runner.Requests, r => r.Name == Again);
        var finding = Assert.Single(outcome.Findings, f => f.Test == Victim);
        Assert.Equal((FlakeCause.Nondeterministic, null, null), (finding.Cause, finding.Polluter, finding.Role));
        Assert.Contains(finding.Steps, s => s.StartsWith("confirmation (", StringComparison.Ordinal) && s.Contains("passed alone 3, failed after " + Polluter + " 3 times", StringComparison.Ordinal));
        Assert.Equal($"read again at the end of the hunt: in '{Again}' it passed after {Polluter} (in its collection); the cause is withdrawn", finding.Steps[^1]);
        Assert.StartsWith($"Looked like a victim of {Polluter} when it was diagnosed, but a run made later contradicts it: in '{Again}' it passed after {Polluter} (in its collection).", finding.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Findings_no_later_run_contradicts_stand()
    {
        // The same suites, with the same runs made, but the late runs agree with the causes: both stand.
        var chaos = RowOrderCaseAndItsCollisionPartner(failsInThePairRun: false);
        var order = VictimAndALateParallelRun(passesInTheLastRun: false);

        var chaosOutcome = await new Hunter(chaos, new HuntOptions(3, 3, ["identities", "rows"], "S")).HuntAsync(TestContext.Current.CancellationToken);
        var orderOutcome = await new Hunter(order, new HuntOptions(5, 3, [], "S")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Contains(chaos.Requests, r => r.Name == Pair && r.Tests!.Contains(Unordered));
        Assert.Contains(order.Requests, r => r.Name == Again);
        Assert.Equal(FlakeCause.RowOrder, Assert.Single(chaosOutcome.Findings, f => f.Test == Unordered).Cause);
        var victim = Assert.Single(orderOutcome.Findings, f => f.Test == Victim);
        Assert.Equal((FlakeCause.TestOrder, Polluter), (victim.Cause, victim.Polluter));
        Assert.DoesNotContain(chaosOutcome.Findings.Concat(orderOutcome.Findings).SelectMany(f => f.Steps), s => s.StartsWith("read again", StringComparison.Ordinal));
    }
}
