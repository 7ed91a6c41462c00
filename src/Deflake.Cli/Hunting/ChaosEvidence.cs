using System.Globalization;
using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>
/// What a hunt's runs say about one test under one chaos mode (issue 15, "confirm before blaming"). A chaos failure
/// repeats for its seed: the mode's changes (id ranges, row orders, culture, time zone) are a fixed function of
/// <c>DEFLAKE_SEED</c>, and each test reads them on its own database or in its own process. So the mode is named only
/// when the test failed under it <see cref="Confirmations"/> times under the same conditions — the mode, and the seed
/// its survey run had — and passed every run without chaos it was in; a pass under those conditions rules the mode out.
/// </summary>
/// <remarks>
/// A run counts (is a repetition) when the test ran under <see cref="Mode"/> with <see cref="Seed"/> and its outcome is
/// its own: the survey run under the mode (which made it a suspect; a failure there counts, it cannot pass there), or a
/// run one at a time in which it ran first in its process, or after tests that a survey run without chaos, one at a
/// time, saw it pass after (they do not break it). Runs under another seed, in parallel outside the survey, or after
/// tests no survey run clears are read by no rule here.
/// </remarks>
internal sealed class ChaosEvidence
{
    /// <summary>
    /// Failures under the mode that name it: 3, the survey run's and two more. A test failing at random with
    /// probability f passes every run without chaos and then fails the two runs after the survey's with probability f²
    /// (9% at f = 0.3, against 30% with one).
    /// </summary>
    public const int Confirmations = 3;

    private ChaosEvidence(string test, string mode, int seed, IReadOnlyList<RunResult> failed, IReadOnlyList<RunResult> passed, RunResult? failedWithoutChaos)
    {
        Test = test;
        Mode = mode;
        Seed = seed;
        Failed = failed;
        Passed = passed;
        FailedWithoutChaos = failedWithoutChaos;
    }

    /// <summary>The test.</summary>
    public string Test { get; }

    /// <summary>The chaos mode.</summary>
    public string Mode { get; }

    /// <summary>The seed of the survey run under the mode: the runs with another seed do not count.</summary>
    public int Seed { get; }

    /// <summary>The counted runs in which it failed under the mode, in the order they ran.</summary>
    public IReadOnlyList<RunResult> Failed { get; }

    /// <summary>The counted runs in which it passed under the mode (one at a time, its outcome its own).</summary>
    public IReadOnlyList<RunResult> Passed { get; }

    /// <summary>A run without chaos on the test in which it failed: chaos is then not what breaks it.</summary>
    public RunResult? FailedWithoutChaos { get; }

    /// <summary>The mode is its cause: failed <see cref="Confirmations"/> times under it, never passed under it, never failed without chaos.</summary>
    public bool Confirmed => FailedWithoutChaos is null && Passed.Count == 0 && Failed.Count >= Confirmations;

    /// <summary>The mode is ruled out: it passed under it (as good as alone), or failed without chaos.</summary>
    public bool RuledOut => FailedWithoutChaos is not null || Passed.Count > 0;

    /// <summary>Neither confirmed nor ruled out: it needs more runs under the mode.</summary>
    public bool Open => !Confirmed && !RuledOut;

    /// <summary>How many more counted failures would confirm the mode (0 when it is settled).</summary>
    public int Needed => Open ? Confirmations - Failed.Count : 0;

    /// <summary>
    /// Chance: under the same mode and seed, one at a time, its outcome its own each time, it failed once and passed once.
    /// A chaos victim cannot do that (its failure repeats for the seed), nor can a collision (no test ran beside it).
    /// </summary>
    public bool Chance => FailedWithoutChaos is null && Passed.Count > 0 && Failed.Any(r => !r.Request.Parallel);

    /// <summary>The evidence for <paramref name="test"/> under <paramref name="mode"/> from every run so far.</summary>
    /// <param name="test">The test.</param>
    /// <param name="mode">The chaos mode.</param>
    /// <param name="seed">The seed the survey run under the mode had (the hunt's).</param>
    /// <param name="runs">Every run of the hunt, survey first, in the order they ran.</param>
    /// <param name="survey">The survey runs (they clear the tests a test passed after).</param>
    public static ChaosEvidence Of(string test, string mode, int seed, IEnumerable<RunResult> runs, IReadOnlyList<RunResult> survey)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var all = runs.ToArray();
        var counted = all.Where(r => Counts(r, test, mode, seed, survey)).ToArray();
        return new ChaosEvidence(test, mode, seed,
            [.. counted.Where(r => r.FailedTest(test))],
            [.. counted.Where(r => r.PassedTest(test) && !r.Request.Parallel)],
            all.FirstOrDefault(r => r.FailedTest(test) && r.Request.ChaosOf(test) == "none"));
    }

    /// <summary>
    /// Whether a run is a repetition of the test under the mode: run under it with the seed, and its outcome its own (the
    /// survey run under the mode; or one at a time, first in its process or after tests a survey run clears).
    /// </summary>
    public static bool Counts(RunResult run, string test, string mode, int seed, IReadOnlyList<RunResult> survey)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(survey);
        if (run.OutcomeOf(test) is null || run.Request.ChaosOf(test) != mode || run.Request.Seed != seed)
        {
            return false;
        }

        if (run.Request.Parallel)
        {
            return survey.Contains(run);
        }

        var before = run.RanBefore(test);
        return before.Count == 0 || ClearedBy(test, before, survey) is not null;
    }

    /// <summary>
    /// A survey run without chaos, one at a time, in which the test passed after every one of <paramref name="before"/>:
    /// they do not break it (without chaos), so its outcome after them under chaos is the mode's. Null when none.
    /// </summary>
    public static RunResult? ClearedBy(string test, IReadOnlyList<string> before, IReadOnlyList<RunResult> survey)
        => survey.FirstOrDefault(r => !r.Request.Parallel && r.Request.Chaos == "none" && r.Request.TestChaos is null && r.PassedTest(test)
            && before.All(r.RanBefore(test).Contains));

    /// <summary>"failed 3 times (in 'chaos rows', 'alone, chaos rows', …) and never passed", for steps and evidence.</summary>
    public string Summary
    {
        get
        {
            var failed = string.Join(", ", Failed.Select(r => $"'{r.Request.Name}'"));
            var passed = Passed.Count == 0 ? "never passed under it as good as alone"
                : $"passed in {string.Join(", ", Passed.Select(r => $"'{r.Request.Name}'"))}";
            return string.Create(CultureInfo.InvariantCulture,
                $"failed {Failed.Count} {(Failed.Count == 1 ? "time" : "times")} with seed {Seed}{(Failed.Count == 0 ? string.Empty : $" (in {failed})")} and {passed}");
        }
    }
}
