using Deflake.Cli.Hunting;

namespace Deflake.Cli.Tests.Hunting;

public sealed class BisectorTests
{
    private static string[] Suite(int count) => Enumerable.Range(0, count).Select(i => $"Suite.Tests.T{i:D4}").ToArray();

    private static VictimFailsAfter FailsWhenAnyRan(params string[] polluters)
        => (before, _) => Task.FromResult(before.Any(polluters.Contains));

    private static VictimFailsAfter FailsWhenAllRan(params string[] polluters)
        => (before, _) => Task.FromResult(polluters.All(before.Contains));

    [Theory]
    [InlineData(0, "0 runs")]
    [InlineData(1, "1 run")]
    [InlineData(2, "2 runs")]
    public void Run_counts_read_as_english(int runs, string expected) => Assert.Equal(expected, Bisector.RunCount(runs));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(499)]
    [InlineData(500)]
    [InlineData(777)]
    [InlineData(999)]
    public async Task One_polluter_among_a_thousand_tests_is_found_in_at_most_log2_n_plus_3_runs(int position)
    {
        var tests = Suite(1000);
        var polluter = tests[position];

        var result = await new Bisector(FailsWhenAnyRan(polluter)).BisectAsync(tests, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(BisectionVerdict.Polluted, result.Verdict);
        Assert.Equal([polluter], Assert.Single(result.Polluters));
        var bound = (int)Math.Ceiling(Math.Log2(tests.Length)) + 3;
        Assert.InRange(result.RunsToFirstPolluter, 1, bound);
        Assert.InRange(result.Runs, 1, bound + 1);
    }

    [Fact]
    public async Task Two_independent_polluters_are_both_named()
    {
        var tests = Suite(1000);

        var result = await new Bisector(FailsWhenAnyRan(tests[123], tests[856])).BisectAsync(tests, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(BisectionVerdict.Polluted, result.Verdict);
        Assert.Equal([[tests[123]], [tests[856]]], result.Polluters.Select(p => p.ToArray()).ToArray());
    }

    [Fact]
    public async Task Two_polluters_that_only_pollute_together_are_found_when_halving_hides_the_failure()
    {
        var tests = Suite(1000);

        var result = await new Bisector(FailsWhenAllRan(tests[10], tests[900])).BisectAsync(tests, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(BisectionVerdict.Polluted, result.Verdict);
        Assert.Equal([tests[10], tests[900]], Assert.Single(result.Polluters));
        Assert.Contains(result.Steps, s => s.Contains("delta debugging", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_victim_that_fails_alone_is_reported_as_not_order_dependent()
    {
        var result = await new Bisector((_, _) => Task.FromResult(true)).BisectAsync(Suite(100), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(BisectionVerdict.FailsAlone, result.Verdict);
        Assert.Empty(result.Polluters);
        Assert.Equal(1, result.Runs);
    }

    [Fact]
    public async Task A_victim_that_passes_after_every_test_is_reported_as_not_reproduced()
    {
        var result = await new Bisector((_, _) => Task.FromResult(false)).BisectAsync(Suite(100), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(BisectionVerdict.NotReproduced, result.Verdict);
        Assert.Equal(2, result.Runs);
    }

    [Fact]
    public async Task Bisection_keeps_the_relative_order_of_the_tests_it_runs()
    {
        var tests = Suite(64);
        var seen = new List<IReadOnlyList<string>>();

        await new Bisector((before, _) =>
        {
            seen.Add(before);
            return Task.FromResult(before.Contains(tests[40]));
        }).BisectAsync(tests, cancellationToken: TestContext.Current.CancellationToken);

        Assert.All(seen, run => Assert.Equal(run.OrderBy(t => Array.IndexOf(tests, t)), run));
    }

    [Fact]
    public async Task Known_facts_from_the_caller_save_their_runs()
    {
        var tests = Suite(1024);

        var result = await new Bisector(FailsWhenAnyRan(tests[5])).BisectAsync(tests, knownPassesAlone: true, knownFailsAfterAll: true, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal([tests[5]], Assert.Single(result.Polluters));
        Assert.InRange(result.RunsToFirstPolluter, 1, 11);
    }

    [Fact]
    public async Task A_list_already_run_is_not_run_again()
    {
        // Halving runs [a] (passes), so [b] is the polluter; the search for a second polluter among the rest is [a]
        // again, known already.
        string[] tests = ["S.a", "S.b"];
        var runs = 0;

        var result = await new Bisector((before, _) =>
        {
            runs++;
            return Task.FromResult(before.Contains("S.b"));
        }).BisectAsync(tests, knownPassesAlone: true, knownFailsAfterAll: true, TestContext.Current.CancellationToken);

        Assert.Equal(["S.b"], Assert.Single(result.Polluters));
        Assert.Equal((2, 2), (runs, result.Runs));
        Assert.Contains(result.Steps, s => s.Contains("not run again", StringComparison.Ordinal));
    }

    private static (VictimFailsAfter FailsAfter, List<string> Runs) Recording(Func<IReadOnlyList<string>, bool> fails)
    {
        var runs = new List<string>();
        return ((before, _) =>
        {
            runs.Add(string.Join('\n', before));
            return Task.FromResult(fails(before));
        }, runs);
    }

    [Fact]
    public async Task With_two_candidates_and_one_cleared_by_the_survey_the_other_runs_first_and_alone_settles_it()
    {
        string[] tests = ["S.Cleared", "S.Suspect"];
        var (failsAfter, runs) = Recording(before => before.Contains("S.Suspect"));

        var result = await new Bisector(failsAfter) { Unlikely = new HashSet<string> { "S.Cleared" } }
            .BisectAsync(tests, knownPassesAlone: true, knownFailsAfterAll: true, TestContext.Current.CancellationToken);

        Assert.Equal(["S.Suspect"], Assert.Single(result.Polluters));
        Assert.Equal(["S.Suspect"], runs); // [suspect, victim] directly; no run of [cleared, victim], no closing run alone
        Assert.Equal(1, result.Runs);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(500)]
    [InlineData(999)]
    public async Task A_right_hint_finds_one_polluter_among_a_thousand_without_the_closing_run(int position)
    {
        var tests = Suite(1000);
        var unlikely = tests.Where((_, i) => i != position).ToHashSet();
        var (failsAfter, runs) = Recording(before => before.Contains(tests[position]));

        var result = await new Bisector(failsAfter) { Unlikely = unlikely }.BisectAsync(tests, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal([tests[position]], Assert.Single(result.Polluters));
        // alone, all, then halvings that all fail (the polluter is in every half run): no closing run alone.
        Assert.InRange(result.RunsToFirstPolluter, 1, (int)Math.Ceiling(Math.Log2(tests.Length)) + 2);
        Assert.DoesNotContain(result.Steps, s => s.Contains("suspect", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Steps, s => s.Contains(": passed", StringComparison.Ordinal) && !s.Contains("alone", StringComparison.Ordinal));
        Assert.Equal(runs.Count, runs.Distinct().Count());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(123)]
    [InlineData(999)]
    public async Task A_wrong_hint_still_finds_the_polluter_within_log2_n_plus_3_runs(int position)
    {
        // The survey "cleared" the polluter (a cleaner ran between it and the victim there), and most others too.
        var tests = Suite(1000);
        var unlikely = tests.Where((_, i) => i == position || i % 7 != 0).ToHashSet();
        var (failsAfter, runs) = Recording(before => before.Contains(tests[position]));

        var result = await new Bisector(failsAfter) { Unlikely = unlikely }.BisectAsync(tests, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(BisectionVerdict.Polluted, result.Verdict);
        Assert.Equal([tests[position]], result.Polluters[0]);
        Assert.InRange(result.RunsToFirstPolluter, 1, (int)Math.Ceiling(Math.Log2(tests.Length)) + 3);
        Assert.Equal(runs.Count, runs.Distinct().Count()); // never the same list twice
    }

    [Fact]
    public async Task With_a_hint_two_independent_polluters_are_both_named()
    {
        var tests = Suite(1000);
        var unlikely = tests.Where((_, i) => i is not (123 or 856) && i % 3 != 0).ToHashSet();
        var (failsAfter, runs) = Recording(before => before.Contains(tests[123]) || before.Contains(tests[856]));

        var result = await new Bisector(failsAfter) { Unlikely = unlikely }.BisectAsync(tests, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal([tests[123], tests[856]], result.Polluters.Select(p => Assert.Single(p)).Order());
        Assert.Equal(runs.Count, runs.Distinct().Count());
    }

    [Fact]
    public async Task With_a_hint_polluters_that_only_pollute_together_fall_back_to_delta_debugging()
    {
        var tests = Suite(1000);
        var unlikely = tests.Where((_, i) => i != 10 && i % 2 == 0).ToHashSet(); // tests[900] "cleared", tests[10] not
        var (failsAfter, runs) = Recording(before => before.Contains(tests[10]) && before.Contains(tests[900]));

        var result = await new Bisector(failsAfter) { Unlikely = unlikely }.BisectAsync(tests, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal([tests[10], tests[900]], Assert.Single(result.Polluters));
        Assert.Contains(result.Steps, s => s.Contains("delta debugging", StringComparison.Ordinal));
        // Before delta debugging, the last list known to fail is run once more (chance would pass it); no other list twice.
        Assert.Contains(result.Steps, s => s.Contains("halving hid the failure", StringComparison.Ordinal) && s.EndsWith("again: failed", StringComparison.Ordinal));
        Assert.Equal(runs.Count - 1, runs.Distinct().Count());
    }

    [Fact]
    public async Task A_failure_that_halving_hid_and_that_does_not_come_back_is_not_delta_debugged()
    {
        // The victim failed after the full list once, by chance: halving finds nothing, and the list, run again, passes.
        var tests = Suite(16);
        var (failsAfter, runs) = Recording(_ => false);

        var result = await new Bisector(failsAfter).BisectAsync(tests, knownPassesAlone: true, knownFailsAfterAll: true, TestContext.Current.CancellationToken);

        Assert.Equal(BisectionVerdict.NotReproduced, result.Verdict);
        Assert.Empty(result.Polluters);
        Assert.DoesNotContain(result.Steps, s => s.Contains("delta debugging", StringComparison.Ordinal));
        Assert.Equal(string.Join('\n', tests), runs[^1]); // the last run: the whole list again
        Assert.True(runs.Count <= 6, string.Join(" | ", result.Steps)); // halving (4 runs, one closing check) and the list again
    }

    [Fact]
    public async Task With_a_hint_every_run_keeps_the_tests_relative_order()
    {
        var tests = Suite(64);
        var unlikely = tests.Where((_, i) => i % 3 != 0).ToHashSet();
        var seen = new List<IReadOnlyList<string>>();

        await new Bisector((before, _) =>
        {
            seen.Add(before);
            return Task.FromResult(before.Contains(tests[40]));
        }) { Unlikely = unlikely }.BisectAsync(tests, cancellationToken: TestContext.Current.CancellationToken);

        Assert.All(seen, run => Assert.Equal(run.OrderBy(t => Array.IndexOf(tests, t)), run));
    }
}
