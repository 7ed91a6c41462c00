using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Hunting;

/// <summary>
/// Chance shown by an exact replay (issue 15, item 6): a run one at a time without chaos, replayed with exactly the same
/// tests before the victim in the same order, that gives the victim the other outcome proves it fails by chance — a test
/// whose result depends only on the tests before it cannot do that — so the hunt stops searching for it.
/// </summary>
public sealed class ExactReplayTests
{
    private const string V = "S.Victim";
    private const string P = "S.Polluter";

    private static RunResult Run(string name, bool victimFails, bool parallel = false, int seed = 1, IReadOnlyDictionary<string, string>? chaos = null, params string[] tests)
    {
        var start = DateTimeOffset.UnixEpoch;
        var outcomes = tests.Select(t => new TestOutcome(t, !(t == V && victimFails), t == V && victimFails ? "failed" : null, start = start.AddSeconds(1))).ToArray();
        return new RunResult(new RunRequest(name, RunOrderKind.List, "none", seed, parallel, tests) { TestChaos = chaos }, outcomes, TimeSpan.Zero, $"replay {name}");
    }

    [Fact]
    public void Two_runs_with_the_same_tests_before_the_victim_that_disagree_show_chance()
    {
        RunResult[] runs = [Run("survey", false, tests: ["S.A", "S.B", V, "S.C"]), Run("replay", true, tests: ["S.A", "S.B", V])];

        var pair = OrderEvidence.ExactReplayDisagreement(V, runs);

        Assert.Equal((runs[0], runs[1]), pair);
        // Every hypothesis of order is then contradicted, with that sentence as the reason.
        var evidence = OrderEvidence.Of(V, ["S.Z"], runs);
        Assert.Same(runs[1], evidence.Contradiction);
        Assert.Equal((runs[0], runs[1]), evidence.Chance);
        Assert.False(evidence.Confirmed);
        Assert.Contains("in 'survey' and 'replay' the same 2 tests ran before it in the same order", evidence.Shortfall, StringComparison.Ordinal);
        Assert.NotNull(OrderEvidence.Of(V, ["S.B"], runs).Contradiction);
        Assert.NotNull(OrderEvidence.Of(V, ["S.B"], runs, brittle: true).Contradiction);
    }

    [Fact]
    public void Runs_that_are_not_exact_replays_of_each_other_show_nothing()
    {
        // Another order, another seed, a parallel original, chaos on a test before it, chaos on the victim: none counts.
        Assert.Null(OrderEvidence.ExactReplayDisagreement(V, [Run("a", false, tests: ["S.A", "S.B", V]), Run("b", true, tests: ["S.B", "S.A", V])]));
        Assert.Null(OrderEvidence.ExactReplayDisagreement(V, [Run("a", false, tests: ["S.A", V]), Run("b", true, seed: 2, tests: ["S.A", V])]));
        Assert.Null(OrderEvidence.ExactReplayDisagreement(V, [Run("a", false, parallel: true, tests: ["S.A", V]), Run("b", true, tests: ["S.A", V])]));
        Assert.Null(OrderEvidence.ExactReplayDisagreement(V, [Run("a", false, chaos: new Dictionary<string, string> { ["S.A"] = "rows" }, tests: ["S.A", V]), Run("b", true, tests: ["S.A", V])]));
        Assert.Null(OrderEvidence.ExactReplayDisagreement(V, [Run("a", false, chaos: new Dictionary<string, string> { [V] = "rows" }, tests: ["S.A", V]), Run("b", true, tests: ["S.A", V])]));
        // The same outcome twice shows nothing either; chaos suspects after the victim change nothing.
        Assert.Null(OrderEvidence.ExactReplayDisagreement(V, [Run("a", true, tests: ["S.A", V]), Run("b", true, tests: ["S.A", V])]));
        Assert.NotNull(OrderEvidence.ExactReplayDisagreement(V, [Run("a", false, tests: ["S.A", V]), Run("b", true, chaos: new Dictionary<string, string> { ["S.Z"] = "rows" }, tests: ["S.A", V, "S.Z"])]));
    }

    private static SyntheticRunner Suite(Func<RunRequest, IReadOnlyList<string>, bool> victim)
    {
        var runner = new SyntheticRunner();
        foreach (var i in Enumerable.Range(0, 8))
        {
            runner.Add($"Other{i}.Tests.Ok");
        }

        return runner.Add(P).Add(V, victim);
    }

    [Fact]
    public async Task A_test_that_fails_alone_and_fails_the_exact_replay_of_a_run_it_passed_in_gets_no_state_setter_search()
    {
        // Bad luck: it failed alone twice, as a brittle test would; but it passed in two random orders, and fails the
        // exact replay of the first (the same tests before it, in the same order, one at a time): chance, not a setter.
        const int seed = 5;
        var runner = Suite((r, before) => r.Parallel || r.Tests is not null || before.Count == 0 || r.Name is not ("random #2" or "random #4"));

        var outcome = await new Hunter(runner, new HuntOptions(seed, HuntOptions.DefaultRandomOrders, [], "S")).HuntAsync(TestContext.Current.CancellationToken);

        var passedIn = outcome.Runs.Take(outcome.SurveyRunCount).Where(r => r.PassedTest(V)).ToArray();
        Assert.Equal(2, passedIn.Length);
        Assert.All(passedIn, r => Assert.NotEmpty(r.RanBefore(V))); // the setter search has two runs to replay
        var finding = Assert.Single(outcome.Findings);
        Assert.Equal((FlakeCause.Nondeterministic, null, null), (finding.Cause, finding.Polluter, finding.StateSetter));
        Assert.Contains(finding.Steps, s => s.StartsWith("chance: in '", StringComparison.Ordinal) && s.Contains("one at a time, without chaos", StringComparison.Ordinal));
        // One replay, exact (its run's seed, its very tests before the victim), and then no bisection, no second replay.
        var replay = Assert.Single(outcome.Runs, r => r.Request.Name.Contains("(state-setter)", StringComparison.Ordinal));
        var original = passedIn.Single(r => replay.Request.Name.Contains(r.Request.Name, StringComparison.Ordinal));
        Assert.Equal(original.Request.Seed, replay.Request.Seed);
        Assert.Equal(original.RanBefore(V), replay.RanBefore(V));
        Assert.DoesNotContain(outcome.Runs, r => r.Request.Name.StartsWith("bisect setter", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_victim_whose_failure_without_its_polluter_does_not_come_back_in_the_exact_replay_gets_no_polluter_and_no_confirmation()
    {
        // It fails after its polluter every time, and once, by chance, in a random order without the polluter before it.
        var chanceRun = string.Empty;
        var runner = Suite((r, before) => before.Contains(P) || (r.Name == chanceRun && !r.Parallel));
        var options = new HuntOptions(2, HuntOptions.DefaultRandomOrders, [], "S");
        // The random order in which the polluter ran after the victim: its failure there is the chance one.
        chanceRun = Enumerable.Range(1, HuntOptions.DefaultRandomOrders).Select(k => $"random #{k}")
            .First(name => OrderOf(runner, options, name) is var order && order.IndexOf(P) > order.IndexOf(V) && order.IndexOf(V) > 0);

        var outcome = await new Hunter(runner, options).HuntAsync(TestContext.Current.CancellationToken);

        var finding = Assert.Single(outcome.Findings);
        Assert.Equal((V, FlakeCause.Nondeterministic, null), (finding.Test, finding.Cause, finding.Polluter));
        Assert.Empty(finding.Polluters);
        Assert.Contains(finding.Steps, s => s.StartsWith($"chance: in '{chanceRun}' and 'replay without the polluters found'", StringComparison.Ordinal));
        // The search stopped there: no bisection of that run's tests, and no confirmation of the polluter.
        Assert.DoesNotContain(outcome.Runs, r => r.Request.Name.StartsWith("confirm", StringComparison.Ordinal));
        Assert.Single(outcome.Runs.Skip(outcome.SurveyRunCount).SkipWhile(r => !r.Request.Name.StartsWith("replay without", StringComparison.Ordinal)));
    }

    private static List<string> OrderOf(SyntheticRunner suite, HuntOptions options, string name)
    {
        var k = int.Parse(name["random #".Length..], System.Globalization.CultureInfo.InvariantCulture);
        var probe = new SyntheticRunner();
        foreach (var id in suite.ListTestsAsync().Result)
        {
            probe.Add(id);
        }

        var run = probe.RunAsync(new RunRequest(name, RunOrderKind.Random, "none", options.Seed + k - 1, Parallel: false)).Result;
        return run.Tests.Select(t => t.TestId).ToList();
    }
}
