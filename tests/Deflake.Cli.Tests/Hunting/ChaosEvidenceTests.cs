using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Hunting;

public sealed class ChaosEvidenceTests
{
    private const string T = "S.Suspect";
    private const string A = "A.Other";
    private const string B = "B.Other";
    private const int Seed = 42;

    /// <summary>A run of <paramref name="tests"/> in that order; the suspect's outcome as given, every other test passes.</summary>
    private static RunResult Run(string name, string chaos, bool suspectFails, int seed = Seed, bool parallel = false, IReadOnlyDictionary<string, string>? testChaos = null, params string[] tests)
    {
        var start = DateTimeOffset.UnixEpoch;
        var outcomes = tests.Select(t => new TestOutcome(t, !(t == T && suspectFails), t == T && suspectFails ? "failed" : null, start = start.AddSeconds(1))).ToArray();
        return new RunResult(new RunRequest(name, RunOrderKind.List, chaos, seed, parallel, tests) { TestChaos = testChaos }, outcomes, TimeSpan.Zero, $"replay {name}");
    }

    /// <summary>The survey: the parallel run under rows in which it failed, and one run without chaos, one at a time, that ran A then it.</summary>
    private static RunResult[] Survey(params string[] order)
        => [Run("chaos rows", "rows", suspectFails: true, parallel: true, tests: [A, B, T]), Run("random #1", "none", suspectFails: false, tests: order.Length == 0 ? [A, T, B] : order)];

    [Fact]
    public void Three_failures_with_the_surveys_seed_the_surveys_included_confirm_the_mode()
    {
        var survey = Survey();
        RunResult[] runs = [.. survey, Run("alone, chaos rows", "rows", true, tests: [T]), Run("confirm: alone, chaos rows", "rows", true, tests: [T])];

        var evidence = ChaosEvidence.Of(T, "rows", Seed, runs, survey);

        Assert.True(evidence.Confirmed);
        Assert.Equal(["chaos rows", "alone, chaos rows", "confirm: alone, chaos rows"], evidence.Failed.Select(r => r.Request.Name));
        Assert.Equal(0, evidence.Needed);
        // Two are not enough: the survey's failure and one more, which a test failing at random 30% of the time shows in 30% of such hunts.
        Assert.True(ChaosEvidence.Of(T, "rows", Seed, runs[..^1], survey) is { Open: true, Needed: 1 });
    }

    [Fact]
    public void Runs_under_another_seed_or_mode_after_tests_no_survey_run_clears_or_in_parallel_outside_the_survey_do_not_count()
    {
        var survey = Survey();
        RunResult[] runs =
        [
            .. survey,
            Run("replay of random #2", "none", true, seed: Seed + 1, testChaos: new Dictionary<string, string> { [T] = "rows" }, tests: [A, T]), // another seed
            Run("alone, chaos identities", "identities", true, tests: [T]), // another mode
            Run("after B", "rows", true, tests: [B, T]), // no survey run saw it pass after B
            Run("parallel again", "rows", true, parallel: true, tests: [A, T]), // in parallel, not the survey's
        ];

        var evidence = ChaosEvidence.Of(T, "rows", Seed, runs, survey);

        Assert.Equal(["chaos rows"], evidence.Failed.Select(r => r.Request.Name));
        Assert.True(evidence is { Open: true, Needed: 2 });
        // After A it counts: 'random #1' saw it pass after A without chaos.
        var afterA = Run("after A", "rows", true, testChaos: new Dictionary<string, string> { [T] = "rows" }, tests: [A, T]);
        Assert.True(ChaosEvidence.Counts(afterA, T, "rows", Seed, survey));
        Assert.Equal(survey[1], ChaosEvidence.ClearedBy(T, [A], survey));
    }

    [Fact]
    public void A_pass_under_the_mode_rules_it_out_and_is_chance_only_against_a_failure_one_at_a_time()
    {
        var survey = Survey();
        var passedAlone = Run("alone, chaos rows", "rows", false, tests: [T]);

        // Failed only in the parallel survey run, passed alone: not the mode's case (a collision may explain it), not chance.
        var afterSurvey = ChaosEvidence.Of(T, "rows", Seed, [.. survey, passedAlone], survey);
        Assert.True(afterSurvey is { RuledOut: true, Confirmed: false, Chance: false, Needed: 0 });

        // Failed alone, then passed alone, with the same mode and seed: chance.
        var chance = ChaosEvidence.Of(T, "rows", Seed, [.. survey, Run("alone, chaos rows", "rows", true, tests: [T]), passedAlone with { Request = passedAlone.Request with { Name = "confirm: alone, chaos rows" } }], survey);
        Assert.True(chance is { RuledOut: true, Chance: true, Confirmed: false });
        Assert.Equal(["confirm: alone, chaos rows"], chance.Passed.Select(r => r.Request.Name));
    }

    [Fact]
    public void A_failure_without_chaos_rules_every_mode_out_whatever_the_failures_under_it()
    {
        var survey = Survey();
        RunResult[] runs = [.. survey, Run("alone, chaos rows", "rows", true, tests: [T]), Run("confirm: alone, chaos rows", "rows", true, tests: [T]), Run("replay", "none", true, tests: [A, T])];

        var evidence = ChaosEvidence.Of(T, "rows", Seed, runs, survey);

        Assert.Equal(3, evidence.Failed.Count);
        Assert.False(evidence.Confirmed);
        Assert.True(evidence.RuledOut);
        Assert.Equal("replay", evidence.FailedWithoutChaos?.Request.Name);
    }
}
