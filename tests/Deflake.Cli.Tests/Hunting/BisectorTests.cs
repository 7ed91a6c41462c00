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
}
