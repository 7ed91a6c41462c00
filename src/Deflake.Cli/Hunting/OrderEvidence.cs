using System.Globalization;
using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>
/// What every run of a hunt says about one hypothesis: "<c>Victim</c> fails when <c>Polluter</c> (one test, or a set
/// that only pollutes together) ran before it in the same process, and passes otherwise". A pure function of the runs,
/// so the rule is the same for the survey and the diagnosis runs, and unit tests can feed it runs by hand.
/// </summary>
/// <remarks>
/// <para>
/// Observations are the runs in which the victim ran without chaos on itself, and none of the tests before it ran
/// under chaos. One at a time, "before" is every test that ran before it in the process; in a parallel run only the
/// tests of its own collection are surely before it (they run one at a time), so a parallel run can contradict the
/// hypothesis but not confirm it (a collision may explain its failure).
/// </para>
/// <para>
/// A run in which the victim passed after the polluter contradicts the hypothesis, unless something else was
/// different: a test ran between the polluter and the victim that never ran between them in a run where it failed (it
/// may clean up what the polluter left). So does a run one at a time in which it failed with no polluter before it
/// (the polluter and any other, independent polluters the bisection found): something else breaks it.
/// </para>
/// <para>
/// The brittle hypothesis (<see cref="Brittle"/>) is the mirror image: "<c>Victim</c> passes when its state-setter ran
/// before it, and fails otherwise". It is read by the same rules with passed and failed swapped: <c>PassedAlone</c>
/// then counts the runs where it failed alone, <c>FailedAfter</c> the fresh runs where it passed after the setter; a
/// run where it failed after the setter (nothing else different), or passed one at a time with no setter before it,
/// contradicts it.
/// </para>
/// </remarks>
internal sealed record OrderEvidence(string Victim, IReadOnlyList<string> Polluter, int PassedAlone, int FailedAfter, RunResult? Contradiction)
{
    /// <summary>
    /// How many times each half of the hypothesis must be seen before a polluter is named: the victim passing alone
    /// (any run counts: none is chosen by the polluter), and failing after the polluter in runs made after it was named
    /// (the survey runs and bisection steps that failed are why it was named, so a test that fails at random would
    /// "confirm" any polluter with them). A test failing at random with probability f shows both with probability
    /// (1 − f)^3 · f^3 ≤ 1/64; and every run one at a time where it fails without the polluter before it, or passes
    /// right after it, rules the polluter out.
    /// </summary>
    public const int Confirmations = 3;

    /// <summary>The brittle hypothesis: <c>Polluter</c> is a state-setter, and the counts are of failures alone and passes after it.</summary>
    public bool Brittle { get; init; }

    /// <summary>Both halves seen <see cref="Confirmations"/> times, and no run contradicts.</summary>
    public bool Confirmed => Contradiction is null && PassedAlone >= Confirmations && FailedAfter >= Confirmations;

    /// <summary>Reads every run for the hypothesis.</summary>
    /// <param name="victim">The test that fails.</param>
    /// <param name="polluter">The test (or tests, together) named as what breaks it.</param>
    /// <param name="runs">Every run so far.</param>
    /// <param name="otherPolluters">Independent other polluters found: a failure after one of them is explained too.</param>
    /// <param name="confirmingFrom">
    /// The index in <paramref name="runs"/> of the first run made after the polluter was named: only from there on does a
    /// failure after it confirm it (0: every run counts, for ledgers fed by hand).
    /// </param>
    /// <param name="brittle">Read the brittle hypothesis: <paramref name="polluter"/> is a state-setter, what makes it pass.</param>
    public static OrderEvidence Of(string victim, IReadOnlyList<string> polluter, IEnumerable<RunResult> runs, IEnumerable<IReadOnlyList<string>>? otherPolluters = null, int confirmingFrom = 0, bool brittle = false)
    {
        ArgumentNullException.ThrowIfNull(polluter);
        ArgumentNullException.ThrowIfNull(runs);
        var all = (otherPolluters ?? []).Prepend(polluter).ToArray();
        var observations = runs.Select((r, i) => Observe(r, victim, polluter, all, brittle) is { } o ? o with { Fresh = i >= confirmingFrom } : null).OfType<Observation>().ToArray();
        // The tests seen between the polluter and the victim in runs where it failed after the polluter.
        var betweenWhenFailed = observations.Where(o => !o.Passed && o.After && !o.Run.Request.Parallel)
            .SelectMany(o => o.Between).ToHashSet(StringComparer.Ordinal);
        var contradiction = observations.FirstOrDefault(o => (o.Passed && o.After && o.Between.All(betweenWhenFailed.Contains))
            || (!o.Passed && !o.Explained && !o.Run.Request.Parallel))?.Run;
        var sequential = observations.Where(o => !o.Run.Request.Parallel).ToArray();
        // A fresh failure after the polluter counts only when the polluter ran right before it (nothing between them,
        // so that a pass there would contradict: every such run counts, whatever its outcome) and nothing else before
        // it could explain it: every other test that ran before it is cleared (a run saw it pass after that test). A
        // run made for several victims at once puts other victims' tests first; a run of the polluter and the victim
        // has none. (Runs of other victims' lists, in which it ran after the polluter with other tests between, would
        // give a test failing at random many chances to "confirm" it, and only a pass with nothing new between counts
        // against.)
        var cleared = ClearedBy(observations);
        // Chance, shown outright: two exact replays of each other that disagree contradict every hypothesis of order.
        var chance = ExactReplayDisagreement(victim, runs);
        contradiction ??= chance?.Later;
        return new OrderEvidence(victim, polluter,
            sequential.Count(o => o.Passed && o.Before.Count == 0),
            sequential.Count(o => !o.Passed && o.After && o.Fresh && o.Between.Count == 0
                && o.Before.All(t => polluter.Contains(t, StringComparer.Ordinal) || cleared.Contains(t))),
            contradiction)
        { Brittle = brittle, Chance = chance };
    }

    /// <summary>
    /// Two runs that show the victim fails by chance: in each it ran one at a time, without chaos on it or on any test
    /// before it, with the same seed and exactly the same tests before it in the same order (none, when it ran first), and
    /// it passed in one and failed in the other. A test whose result depends only on the tests that ran before it in its
    /// process (a polluter's victim, a brittle test) cannot do that, so no polluter or state-setter explains it. A
    /// parallel run, or one with chaos on it or before it, never counts: other tests then ran beside it, or under chaos.
    /// Null when no such pair is among <paramref name="runs"/>.
    /// </summary>
    /// <param name="victim">The test.</param>
    /// <param name="runs">Every run so far, in the order they were made.</param>
    /// <returns>The earlier and the later run of the first such pair (the later is the one that showed it).</returns>
    public static (RunResult Earlier, RunResult Later)? ExactReplayDisagreement(string victim, IEnumerable<RunResult> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var seen = new Dictionary<string, (RunResult Passed, RunResult Failed)>(StringComparer.Ordinal);
        foreach (var run in runs)
        {
            if (run.Request.Parallel || run.OutcomeOf(victim) is not { } outcome || run.Request.ChaosOf(victim) != "none")
            {
                continue;
            }

            var before = run.RanBefore(victim);
            if (before.Any(t => run.Request.ChaosOf(t) != "none"))
            {
                continue;
            }

            var key = string.Create(CultureInfo.InvariantCulture, $"{run.Request.Seed}\n{string.Join('\n', before)}");
            seen.TryGetValue(key, out var pair);
            pair = outcome.Passed ? (pair.Passed ?? run, pair.Failed) : (pair.Passed, pair.Failed ?? run);
            if (pair.Passed is not null && pair.Failed is not null)
            {
                return outcome.Passed ? (pair.Failed, run) : (pair.Passed, run);
            }

            seen[key] = pair;
        }

        return null;
    }

    /// <summary>The two exact replays of each other in which the victim passed once and failed once, if any (<see cref="ExactReplayDisagreement"/>).</summary>
    public (RunResult Earlier, RunResult Later)? Chance { get; init; }

    /// <summary>
    /// The sentence that says the victim failed by chance: which two runs, the same tests before it in the same order, one
    /// passed and one failed. Null when no two runs show it.
    /// </summary>
    public static string? ChanceSentence(string victim, IEnumerable<RunResult> runs)
        => ExactReplayDisagreement(victim, runs) is { } pair ? Describe(victim, pair) : null;

    private static string Describe(string victim, (RunResult Earlier, RunResult Later) pair)
    {
        var count = pair.Earlier.RanBefore(victim).Count;
        var before = count == 0 ? "it ran first (alone)" : string.Create(CultureInfo.InvariantCulture, $"the same {count} test{(count == 1 ? string.Empty : "s")} ran before it in the same order");
        return $"in '{pair.Earlier.Request.Name}' and '{pair.Later.Request.Name}' {before}, one at a time, without chaos, and it {(pair.Earlier.PassedTest(victim) ? "passed" : "failed")} in the first and {(pair.Later.PassedTest(victim) ? "passed" : "failed")} in the second: a test whose result depends only on the tests before it cannot do that, so it fails by chance";
    }

    /// <summary>
    /// The tests cleared for the victim: it ran after them without chaos and showed its usual outcome there (passed, or
    /// for a brittle victim failed), so none of them alone turns it (a polluter, or a state-setter). Tests that ran
    /// before the victim in a run made for several victims must be cleared, so its outcome stays its own.
    /// </summary>
    /// <param name="victim">The test.</param>
    /// <param name="runs">Every run so far.</param>
    /// <param name="brittle">For a brittle victim: cleared of being a state-setter (it failed after them).</param>
    public static IReadOnlySet<string> Cleared(string victim, IEnumerable<RunResult> runs, bool brittle = false)
    {
        ArgumentNullException.ThrowIfNull(runs);
        return ClearedBy(runs.Select(r => Observe(r, victim, [], [], brittle)).OfType<Observation>());
    }

    private static HashSet<string> ClearedBy(IEnumerable<Observation> observations)
        => observations.Where(o => o.Passed).SelectMany(o => o.Before).ToHashSet(StringComparer.Ordinal);

    /// <summary>"failed 3 of 9 runs": how often it failed in the runs where it ran without chaos on itself.</summary>
    public static string FailureRate(string victim, IEnumerable<RunResult> runs)
    {
        var plain = runs.Where(r => r.OutcomeOf(victim) is not null && r.Request.ChaosOf(victim) == "none").ToArray();
        var failed = plain.Count(r => r.FailedTest(victim));
        return string.Create(CultureInfo.InvariantCulture, $"failed {failed} of {plain.Length} run{(plain.Length == 1 ? string.Empty : "s")} without chaos");
    }

    /// <summary>Why no polluter is named, for the evidence: which half is missing, or which run contradicts.</summary>
    public string Shortfall => Chance is { } chance && Contradiction == chance.Later ? Describe(Victim, chance)
        : Brittle ? BrittleShortfall : Contradiction is { } run
        ? run.FailedTest(Victim)
            ? $"in '{run.Request.Name}' it failed without {string.Join(" + ", Polluter)} before it"
            : $"in '{run.Request.Name}' it passed after {string.Join(" + ", Polluter)}{(run.Request.Parallel ? " (in its collection)" : string.Empty)}"
        : string.Create(CultureInfo.InvariantCulture, $"it passed alone {PassedAlone} and failed after {string.Join(" + ", Polluter)} (in runs made after it was named) {FailedAfter} of the {Confirmations} times each needs");

    private string BrittleShortfall => Contradiction is { } run
        ? run.FailedTest(Victim)
            ? $"in '{run.Request.Name}' it failed after {string.Join(" + ", Polluter)}{(run.Request.Parallel ? " (in its collection)" : string.Empty)}"
            : $"in '{run.Request.Name}' it passed without {string.Join(" + ", Polluter)} before it"
        : string.Create(CultureInfo.InvariantCulture, $"it failed alone {PassedAlone} and passed after {string.Join(" + ", Polluter)} (in runs made after it was named) {FailedAfter} of the {Confirmations} times each needs");

    /// <summary>The runs' part in the evidence: "passed alone 3 times, failed after P 4 times, never passed after it".</summary>
    public string Summary => Brittle
        ? string.Create(CultureInfo.InvariantCulture,
            $"failed alone {Times(PassedAlone)}, passed after {string.Join(" + ", Polluter)} {Times(FailedAfter)} in runs made after it was named, and never failed after it nor passed one at a time without it")
        : string.Create(CultureInfo.InvariantCulture,
        $"passed alone {Times(PassedAlone)}, failed after {string.Join(" + ", Polluter)} {Times(FailedAfter)} in runs made after it was named, and never passed after it nor failed one at a time without it");

    private static string Times(int n) => n == 1 ? "once" : string.Create(CultureInfo.InvariantCulture, $"{n} times");

    private sealed record Observation(RunResult Run, bool Passed, IReadOnlyList<string> Before, bool After, IReadOnlyList<string> Between, bool Explained)
    {
        /// <summary>Made after the polluter was named: it can confirm it.</summary>
        public bool Fresh { get; init; } = true;
    }

    private static Observation? Observe(RunResult run, string victim, IReadOnlyList<string> polluter, IReadOnlyList<IReadOnlyList<string>> all, bool brittle)
    {
        var outcome = run.OutcomeOf(victim);
        if (outcome is null || run.Request.ChaosOf(victim) != "none")
        {
            return null;
        }

        var before = run.Request.Parallel ? run.RanBeforeInCollection(victim) : run.RanBefore(victim);
        if (before.Any(t => run.Request.ChaosOf(t) != "none"))
        {
            return null;
        }

        var after = polluter.Count > 0 && polluter.All(before.Contains);
        var last = after ? polluter.Max(p => IndexOf(before, p)) : -1;
        // Brittle: the hypothesis's "good" outcome is failing (alone), its "bad" one passing (after the setter).
        return new Observation(run, outcome.Passed != brittle, before, after, after ? before.Skip(last + 1).ToArray() : [], all.Any(set => set.All(before.Contains)));
    }

    private static int IndexOf(IReadOnlyList<string> tests, string test)
    {
        for (var i = 0; i < tests.Count; i++)
        {
            if (string.Equals(tests[i], test, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
