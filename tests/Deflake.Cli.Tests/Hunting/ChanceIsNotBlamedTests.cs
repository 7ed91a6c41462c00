using Deflake.Cli.Hunting;

namespace Deflake.Cli.Tests.Hunting;

/// <summary>A test failing by chance must get neither a chaos cause nor a collision partner from a lucky failure or two.</summary>
public sealed class ChanceIsNotBlamedTests
{
    private static SyntheticRunner Suite(Func<Running.RunRequest, IReadOnlyList<string>, bool> random, Func<Running.RunRequest, IReadOnlyList<string>, bool>? worker = null)
    {
        var runner = new SyntheticRunner();
        foreach (var i in Enumerable.Range(0, 6))
        {
            runner.Add($"Suite.Correct.T{i}");
        }

        runner.Add("Suite.Lottery.Draw", random);
        runner.Add("Suite.Busy.Worker", worker);
        return runner;
    }

    [Fact]
    public async Task A_test_that_also_failed_without_chaos_is_not_blamed_on_the_mode_it_failed_under()
    {
        // It fails under rows every time it is asked (the worst luck), and once in a random order without chaos.
        var runner = Suite((r, _) => r.Chaos == "rows" || r.Name == "random #2");

        var outcome = await new Hunter(runner, new HuntOptions(3, 3, ["rows"], "Suite")).HuntAsync(TestContext.Current.CancellationToken);

        var finding = Assert.Single(outcome.Findings);
        Assert.Equal(("Suite.Lottery.Draw", FlakeCause.Nondeterministic, null), (finding.Test, finding.Cause, finding.Polluter));
        Assert.Contains("failed", finding.Evidence, StringComparison.Ordinal);
        // It was never checked alone under the mode: its failure without chaos already rules chaos out.
        Assert.DoesNotContain(runner.Requests, r => r.Chaos == "rows" && r.Tests is ["Suite.Lottery.Draw"]);
    }

    [Fact]
    public async Task A_test_that_failed_once_in_a_pair_run_by_chance_gets_no_partner()
    {
        // It fails in the parallel survey runs and in the first run of a pair, then passes: chance, not a collision.
        var pairRuns = 0;
        // Another test failed by chance in the baseline too: the partner the pair run seems to confirm.
        var runner = Suite((r, running) => r.Parallel && (r.Tests is null || (running.Count == 2 && ++pairRuns == 1)), (r, _) => r.Name == "baseline");

        var outcome = await new Hunter(runner, new HuntOptions(3, 3, ["rows"], "Suite")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal(2, outcome.Findings.Count);
        Assert.All(outcome.Findings, f => Assert.Equal((FlakeCause.Nondeterministic, null), (f.Cause, f.Polluter)));
        var lottery = Assert.Single(outcome.Findings, f => f.Test == "Suite.Lottery.Draw");
        Assert.Contains(lottery.Steps, s => s.StartsWith("confirm: in parallel with Suite.Busy.Worker alone, it failed 1 of 2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_test_whose_pair_runs_all_fail_by_chance_is_no_collision_when_most_parallel_runs_of_the_suite_passed()
    {
        // It failed in one of the suite's 3 parallel runs, and (the worst luck) in every pair run: the suite's runs say no.
        var runner = Suite((r, running) => r.Parallel && (r.Name == "chaos rows" || running.Count == 2), (r, _) => r.Name == "chaos rows");

        var outcome = await new Hunter(runner, new HuntOptions(3, 3, ["identities", "rows"], "Suite")).HuntAsync(TestContext.Current.CancellationToken);

        var lottery = Assert.Single(outcome.Findings, f => f.Test == "Suite.Lottery.Draw");
        Assert.Equal((FlakeCause.Nondeterministic, null), (lottery.Cause, lottery.Polluter));
        // The suite's runs rule the collision out before any pair is run (issue 15, item 6: the pair runs, which would
        // all have failed, could not have outweighed them).
        Assert.Contains(lottery.Steps, s => s.StartsWith("no collision: it failed in 1 of the suite's 3 parallel runs", StringComparison.Ordinal));
        Assert.DoesNotContain(outcome.Runs, r => r.Request.Parallel && r.Request.Tests is { Count: 2 });
    }

    [Fact]
    public async Task A_test_that_failed_in_two_parallel_runs_by_chance_is_no_collision_without_a_partner()
    {
        // Only it fails, in two of the three parallel runs of the suite: no partner to replay, too few failures.
        var runner = Suite((r, _) => r.Parallel && r.Tests is null && r.Name is "baseline" or "chaos rows");

        var outcome = await new Hunter(runner, new HuntOptions(3, 3, ["identities", "rows"], "Suite")).HuntAsync(TestContext.Current.CancellationToken);

        var finding = Assert.Single(outcome.Findings);
        Assert.Equal((FlakeCause.Nondeterministic, null), (finding.Cause, finding.Polluter));
        Assert.Contains(finding.Steps, s => s.StartsWith("confirm: failed in 2 of ", StringComparison.Ordinal));
    }
}
