using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Hunting;

public sealed class OrderEvidenceTests
{
    private const string P = "S.Polluter";
    private const string V = "S.Victim";

    /// <summary>A one-at-a-time run of <paramref name="tests"/> in that order; the victim's outcome as given.</summary>
    private static RunResult Run(string name, bool victimFails, params string[] tests)
    {
        var start = DateTimeOffset.UnixEpoch;
        var outcomes = tests.Select(t => new TestOutcome(t, !(t == V && victimFails), t == V && victimFails ? "failed" : null, start = start.AddSeconds(1))).ToArray();
        return new RunResult(new RunRequest(name, RunOrderKind.List, "none", 1, Parallel: false, tests), outcomes, TimeSpan.Zero, $"replay {name}");
    }

    [Fact]
    public void Three_passes_alone_and_three_fresh_failures_after_the_polluter_confirm_it()
    {
        RunResult[] runs = [Run("named it", true, P, V), Run("a1", false, V), Run("a2", false, V), Run("a3", false, V), Run("p1", true, P, V), Run("p2", true, P, V), Run("p3", true, P, V)];

        var evidence = OrderEvidence.Of(V, [P], runs, confirmingFrom: 1);

        Assert.True(evidence.Confirmed);
        Assert.Equal((3, 3), (evidence.PassedAlone, evidence.FailedAfter)); // the run that named it does not count
    }

    [Fact]
    public void The_runs_that_named_the_polluter_do_not_confirm_it()
    {
        RunResult[] runs = [Run("s1", true, P, V), Run("s2", true, P, V), Run("s3", true, P, V), Run("a1", false, V), Run("a2", false, V), Run("a3", false, V)];

        var evidence = OrderEvidence.Of(V, [P], runs, confirmingFrom: 3);

        Assert.False(evidence.Confirmed);
        Assert.Equal(0, evidence.FailedAfter);
        Assert.Null(evidence.Contradiction);
    }

    [Fact]
    public void Passing_right_after_the_polluter_contradicts_it()
    {
        RunResult[] runs = [Run("survey", false, "S.Other", P, V), Run("replay", true, "S.Other", P, V)];

        var evidence = OrderEvidence.Of(V, [P], runs);

        Assert.Same(runs[0], evidence.Contradiction);
        Assert.Equal($"in 'survey' it passed after {P}", evidence.Shortfall);
    }

    [Fact]
    public void Passing_after_the_polluter_with_a_test_between_that_never_ran_between_them_in_a_failure_does_not_contradict_it()
    {
        // The test between them may clean up what the polluter left.
        RunResult[] runs = [Run("survey", false, P, "S.Cleaner", V), Run("replay", true, P, V)];

        Assert.Null(OrderEvidence.Of(V, [P], runs).Contradiction);
    }

    [Fact]
    public void Failing_one_at_a_time_without_any_polluter_before_it_contradicts_them_all()
    {
        RunResult[] runs = [Run("replay", true, P, V), Run("random", true, "S.Other", V), Run("other", true, "S.Second", V)];

        Assert.Same(runs[1], OrderEvidence.Of(V, [P], runs, [["S.Second"]]).Contradiction);
        Assert.Null(OrderEvidence.Of(V, [P], runs, [["S.Second"], ["S.Other"]]).Contradiction);
    }

    [Fact]
    public void The_failure_rate_counts_the_runs_without_chaos_on_the_test()
    {
        var chaos = Run("chaos", true, V) with { Request = new RunRequest("chaos", RunOrderKind.Default, "rows", 1, Parallel: false, [V]) };
        RunResult[] runs = [Run("a", true, V), Run("b", false, V), Run("c", false, P, V), chaos];

        Assert.Equal("failed 1 of 3 runs without chaos", OrderEvidence.FailureRate(V, runs));
    }

    [Fact]
    public void A_fresh_failure_after_other_victims_tests_counts_only_when_each_is_cleared_and_the_polluter_ran_right_before_it()
    {
        // 'S.Cleared' ran before it in a run where it passed: it does not break it. 'S.Unknown' never did.
        RunResult[] runs =
        [
            Run("survey", false, "S.Cleared", V), Run("named it", true, P, V),
            Run("shared, cleared before", true, "S.Cleared", P, V),
            Run("shared, unknown before", true, "S.Unknown", P, V),
            Run("between", true, P, "S.Cleared", V),
        ];

        var evidence = OrderEvidence.Of(V, [P], runs, confirmingFrom: 2);

        // Only the first shared run counts: in the second an uncleared test could be what broke it, in the third a test
        // ran between the polluter and it (a pass there would not contradict, so a failure there does not confirm).
        Assert.Equal(1, evidence.FailedAfter);
        Assert.Equal(["S.Cleared"], OrderEvidence.Cleared(V, runs));
    }

    [Fact]
    public void For_a_brittle_test_a_test_is_cleared_when_it_failed_after_it()
    {
        RunResult[] runs = [Run("survey", true, "S.NotTheSetter", V), Run("other", false, "S.Setter", V)];

        Assert.Equal(["S.NotTheSetter"], OrderEvidence.Cleared(V, runs, brittle: true));
        Assert.Equal(["S.Setter"], OrderEvidence.Cleared(V, runs));
    }
}
