using System.Globalization;
using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>
/// Every polluter of a victim, not only the one in the first failing list: after a bisection names some, every run
/// one at a time (no chaos) in which the victim failed with none of them before it shows that something else breaks
/// it; the tests before it there (found polluters removed) are replayed and bisected in turn, until no such run is
/// left or the bounds are reached (<see cref="MaxPolluters"/> polluters, <see cref="MorePollutersReplays"/> further
/// replays). Each further polluter is confirmed like the first before it is named.
/// </summary>
internal sealed partial class Hunter
{
    /// <summary>The most polluters named for one victim.</summary>
    internal const int MaxPolluters = 3;

    /// <summary>The most further failing runs replayed, looking for polluters beyond those already found.</summary>
    internal const int MorePollutersReplays = 3;

    /// <summary>
    /// Bisects <paramref name="before"/> (known to make the victim fail) for its polluters, the survey's hint guiding the
    /// halving; with <paramref name="hint"/> false it does not first run the tests the runs single out (they were just
    /// run before the victim, and it passed).
    /// </summary>
    private async Task<BisectionResult> BisectPrefixAsync(string victim, IReadOnlyList<string> before, bool knownPassesAlone, List<string> steps, CancellationToken cancellationToken, IReadOnlyList<IReadOnlyList<string>>? found = null, bool hint = true)
    {
        _progress.Status($"bisecting {before.Count} tests for the polluter of {victim}");
        // The hint of the runs so far: tests that ran before it, without chaos, in a run where it passed (one at a time,
        // or in its own collection in a parallel run) are unlikely polluters; the bisection runs the others first.
        var cleared = OrderEvidence.Cleared(victim, _runs).Where(before.Contains).ToHashSet(StringComparer.Ordinal);
        if (cleared.Count > 0 && cleared.Count < before.Count)
        {
            steps.Add($"bisection tries first the {before.Count - cleared.Count} of the {before.Count} tests no run shows it passing after");
        }

        var riderNotes = new List<string>();
        var bisector = new Bisector(async (subset, ct) =>
        {
            // Chaos suspects not checked yet can ride along here too, after the victim (nothing after it changes its result).
            var request = new RunRequest(subset.Count == 0 ? "bisect: alone" : "bisect", RunOrderKind.List, "none", options.Seed, Parallel: false, [.. subset, victim]);
            var (run, note) = await RunCarryingAsync(request, victim, $"a bisection run for {victim} ({subset.Count} tests before it)", ct,
                $"in a bisection run ({subset.Count} tests, then it)").ConfigureAwait(false);
            if (note is not null)
            {
                riderNotes.Add(note);
            }

            return run.FailedTest(victim);
        }, maxPolluters: 1) // the others: MorePollutersAsync, which checks what this list left uncleared with the rest
        {
            Unlikely = cleared,
            Likely = hint ? SingledOut(victim, before, found ?? [], brittle: false) : new HashSet<string>(StringComparer.Ordinal),
        };
        var result = await bisector.BisectAsync(before, knownPassesAlone, knownFailsAfterAll: true, cancellationToken).ConfigureAwait(false);
        steps.AddRange(result.Steps);
        steps.AddRange(riderNotes);
        return result;
    }

    /// <summary>
    /// Adds to <paramref name="found"/> the polluters left: first those of the runs one at a time in which the victim
    /// failed with none of <paramref name="found"/> before it; then the tests that ran before it in any run one at a
    /// time where it failed that no run has cleared (it passed after them), the bisected lists included (a bisection
    /// stops at its first polluter: this is its check for another): "does it still fail without the polluters found?",
    /// again after each that finds one. Its run alone is known to pass: the bisection that found them saw it.
    /// </summary>
    private async Task MorePollutersAsync(string victim, List<IReadOnlyList<string>> found, List<string> steps, CancellationToken cancellationToken)
    {
        var tried = new HashSet<string>(StringComparer.Ordinal);
        var stillFailsAsked = false;
        for (var replays = 0; replays < MorePollutersReplays && found.Count < MaxPolluters; replays++)
        {
            var next = UnexplainedFailures(victim, found).FirstOrDefault(p => tried.Add(string.Join('\n', p.Before)));
            string what;
            if (next is not null)
            {
                what = $"it failed in '{next.Run.Request.Name}' with no polluter found before it; {next.Describe} (polluters found removed)";
            }
            else if (!stillFailsAsked && Unchecked(victim, found) is { Count: > 0 } rest && tried.Add(string.Join('\n', rest)))
            {
                stillFailsAsked = true;
                next = new Prefix(_runs[^1], rest, "not checked yet");
                what = $"does it still fail without the polluters found? the {rest.Count} test{(rest.Count == 1 ? string.Empty : "s")} that ran before it where it failed, one at a time, and nothing has cleared";
            }
            else
            {
                steps.Add(replays == 0
                    ? "other polluters: none left to look for; in every run one at a time where it failed a polluter found ran before it, and every test before it there was bisected or cleared by a run"
                    : "other polluters: every run one at a time where it failed is now explained");
                return;
            }

            // Of a failing run with none of the found polluters before it, the tests every such run had before it that no
            // run cleared (the runs single them out: an unknown polluter ran before it in each) are run first, when fewer:
            // failed, the bisection starts from them; passed, the whole list is replayed as below.
            var fromRun = what.StartsWith("it failed in", StringComparison.Ordinal);
            var singled = fromRun ? SingledOut(victim, next.Before, found, brittle: false) : [];
            var likelyTried = false;
            if (singled.Count > 0 && singled.Count < next.Before.Count)
            {
                string[] likely = [.. next.Before.Where(singled.Contains)];
                var likelyRequest = new RunRequest(found.Count == 1 ? "replay of the likely, without the polluters found" : string.Create(CultureInfo.InvariantCulture, $"replay of the likely, without the {found.Count} polluters found"), RunOrderKind.List, "none", options.Seed, Parallel: false, [.. likely, victim]);
                var (tryLikely, likelyNote) = await RunCarryingAsync(likelyRequest, victim, $"the search for more polluters of {victim}", cancellationToken).ConfigureAwait(false);
                steps.Add(string.Create(CultureInfo.InvariantCulture,
                    $"another polluter? {what}; first the {likely.Length} of them every run one at a time where it failed with no polluter found before it had before it, and no run cleared, then it: {Outcome(tryLikely, victim)}"));
                if (likelyNote is not null)
                {
                    steps.Add(likelyNote);
                }

                if (OrderEvidence.ExactReplayDisagreement(victim, _runs) is not null)
                {
                    return; // chance, shown: the caller says so
                }

                if (tryLikely.FailedTest(victim))
                {
                    var fromLikely = await BisectPrefixAsync(victim, likely, knownPassesAlone: true, steps, cancellationToken, found).ConfigureAwait(false);
                    found.AddRange(fromLikely.Polluters.Take(MaxPolluters - found.Count));
                    stillFailsAsked &= fromLikely.Polluters.Count == 0;
                    continue;
                }

                likelyTried = true;
            }

            // A failing run with none of the found polluters before it is replayed exactly (its seed, nothing before its
            // tests): a pass there shows the failure was chance, and the caller stops.
            var exact = fromRun && IsExact(next, victim);
            var replayRequest = new RunRequest(found.Count == 1 ? "replay without the polluters found" : string.Create(CultureInfo.InvariantCulture, $"replay without the {found.Count} polluters found"), RunOrderKind.List, "none", exact ? next.Run.Request.Seed : options.Seed, Parallel: false, [.. next.Before, victim]);
            var (replay, note) = await RunCarryingAsync(replayRequest, victim, $"the search for more polluters of {victim}", cancellationToken, exact: exact).ConfigureAwait(false);
            steps.Add($"another polluter? {what}, then it: {Outcome(replay, victim)}");
            if (note is not null)
            {
                steps.Add(note);
            }

            if (OrderEvidence.ExactReplayDisagreement(victim, _runs) is not null)
            {
                return; // chance, shown: the caller says so
            }

            if (!replay.FailedTest(victim) || !(await FailsAgainWhenAllClearedAsync(victim, next.Before, replayRequest, knownPassesAlone: true, steps, cancellationToken).ConfigureAwait(false)).Bisect)
            {
                continue;
            }

            var result = await BisectPrefixAsync(victim, next.Before, knownPassesAlone: true, steps, cancellationToken, found, hint: !likelyTried).ConfigureAwait(false);
            found.AddRange(result.Polluters.Take(MaxPolluters - found.Count));
            stillFailsAsked &= result.Polluters.Count == 0; // found one: ask again without it
        }

        if (found.Count >= MaxPolluters || UnexplainedFailures(victim, found).Length > 0)
        {
            steps.Add($"other polluters: search stopped at its bound ({MaxPolluters} polluters, {MorePollutersReplays} further replays)");
        }
    }

    /// <summary>
    /// The tests that ran before the victim in runs one at a time, without chaos, where it failed, in the order of the
    /// longest such run first, minus the polluters found and those a run saw it pass after (without chaos:
    /// <see cref="OrderEvidence.Cleared"/>).
    /// </summary>
    private List<string> Unchecked(string victim, IReadOnlyList<IReadOnlyList<string>> found)
    {
        var cleared = OrderEvidence.Cleared(victim, _runs);
        return _runs.Where(r => !r.Request.Parallel && r.FailedTest(victim) && r.Request.ChaosOf(victim) == "none")
            .Select(r => r.RanBefore(victim))
            .OrderByDescending(before => before.Count)
            .SelectMany(before => before)
            .Distinct(StringComparer.Ordinal)
            .Where(t => !cleared.Contains(t) && !found.Any(set => set.Contains(t, StringComparer.Ordinal)))
            .ToList();
    }

    /// <summary>The runs one at a time, without chaos, in which it failed with none of <paramref name="found"/> before it: the tests before it, found polluters removed, fewest first.</summary>
    private Prefix[] UnexplainedFailures(string victim, IReadOnlyList<IReadOnlyList<string>> found)
        => _runs.Where(r => !r.Request.Parallel && r.FailedTest(victim) && r.Request.ChaosOf(victim) == "none")
            .Select(r => (Run: r, Before: r.RanBefore(victim)))
            .Where(x => x.Before.All(t => x.Run.Request.ChaosOf(t) == "none") && !found.Any(set => set.All(x.Before.Contains)))
            .Select(x => new Prefix(x.Run, x.Before.Where(t => !found.Any(set => set.Contains(t, StringComparer.Ordinal))).ToArray(), "that ran before it"))
            .Where(p => p.Before.Count > 0)
            .DistinctBy(p => string.Join('\n', p.Before), StringComparer.Ordinal)
            .OrderBy(p => p.Before.Count)
            .ToArray();

    /// <summary>
    /// Confirms each polluter after the first (already confirmed) the way the first was; returns those confirmed. One
    /// that is not is left out, and its steps say why.
    /// </summary>
    private async Task<List<IReadOnlyList<string>>> ConfirmOthersAsync(string victim, List<IReadOnlyList<string>> found, List<string> steps, CancellationToken cancellationToken)
    {
        var confirmed = new List<IReadOnlyList<string>>();
        for (var i = 1; i < found.Count; i++)
        {
            var evidence = await ConfirmAsync(victim, [found[i], .. found.Where((_, j) => j != i)], steps, cancellationToken).ConfigureAwait(false);
            if (evidence.Confirmed)
            {
                confirmed.Add(found[i]);
            }
            else
            {
                steps.Add($"polluter {string.Join(" + ", found[i])} not named: {evidence.Shortfall}");
            }
        }

        return confirmed;
    }

    /// <summary>
    /// The tests of <paramref name="candidates"/> that every run one at a time, without chaos, where the victim showed the
    /// outcome searched for (failed, with none of <paramref name="found"/> before it; for a state-setter: passed) had
    /// before it, and that no run cleared (<see cref="OrderEvidence.Cleared"/>): for one polluter (or setter) the runs
    /// made so far single them out. The bisection runs them first (<see cref="Bisector.Likely"/>).
    /// </summary>
    private HashSet<string> SingledOut(string victim, IReadOnlyList<string> candidates, IReadOnlyList<IReadOnlyList<string>> found, bool brittle)
    {
        var cleared = OrderEvidence.Cleared(victim, _runs, brittle);
        var prefixes = _runs.Where(r => !r.Request.Parallel && r.Request.ChaosOf(victim) == "none" && r.OutcomeOf(victim) is { } o && o.Passed == brittle)
            .Where(r => r.RanBefore(victim).All(t => r.Request.ChaosOf(t) == "none"))
            .Select(r => r.RanBefore(victim))
            .Where(before => !found.Any(set => set.All(before.Contains)))
            .ToArray();
        var singled = candidates.Where(t => !cleared.Contains(t)).ToHashSet(StringComparer.Ordinal);
        foreach (var before in prefixes)
        {
            singled.IntersectWith(before);
        }

        return singled;
    }
}
