using System.Globalization;
using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>The hunt's order cases: replays of the tests that ran before a victim, bisection to the polluter, and its confirmation.</summary>
internal sealed partial class Hunter
{
    /// <summary>Tests that ran one at a time before the victim in <paramref name="Run"/>, where it failed.</summary>
    internal sealed record Prefix(RunResult Run, IReadOnlyList<string> Before, string What)
    {
        public string Describe => Before.Count == 1
            ? $"the test {What} in '{Run.Request.Name}' ({Before[0]})"
            : $"the {Before.Count} tests {What} in '{Run.Request.Name}'";
    }

    /// <summary>
    /// Whether replaying <paramref name="prefix"/> then the victim, one at a time with the prefix run's seed, repeats
    /// that run exactly for the victim: a run one at a time without chaos, and the very tests that ran before it there,
    /// in the same order. Only then can the replay show chance (<see cref="OrderEvidence.ExactReplayDisagreement"/>).
    /// </summary>
    private static bool IsExact(Prefix prefix, string victim)
        => !prefix.Run.Request.Parallel && prefix.Run.Request.ChaosOf(victim) == "none" && prefix.Before.All(t => prefix.Run.Request.ChaosOf(t) == "none")
            && prefix.Before.SequenceEqual(prefix.Run.RanBefore(victim), StringComparer.Ordinal);

    /// <summary>
    /// The finding for a victim two exact replays of each other showed failing by chance (it passed in one, failed in the
    /// other: <see cref="OrderEvidence.ExactReplayDisagreement"/>): <c>nondeterministic</c>, no polluter or state-setter,
    /// and no more runs. Null when no two runs show it.
    /// </summary>
    private Finding? ChanceFinding(string victim, List<string> steps, string? message)
    {
        if (OrderEvidence.ChanceSentence(victim, _runs) is not { } sentence)
        {
            return null;
        }

        steps.Add($"chance: {sentence}; no more runs are made for it");
        return new Finding(victim, FlakeCause.Nondeterministic, null, $"{Capitalize(sentence)}.",
            SmallestFailingReplay(victim) ?? runner.ReproduceCommand(new RunRequest("alone", RunOrderKind.List, "none", options.Seed, Parallel: false, [victim])), steps)
        { Message = message };
    }

    /// <summary>Replays the tests that ran before the victim, then it; if it fails, bisects. Null: no replay failed.</summary>
    private async Task<Finding?> OrderAsync(string victim, IEnumerable<Prefix> prefixes, bool knownPassesAlone, List<string> steps, string? message, CancellationToken cancellationToken)
    {
        // The bisection will need a run alone (unless the survey showed it): when chaos suspects can ride along after
        // the victim there, make it first, so that it is their check too (a run that happens anyway).
        if (!knownPassesAlone && RidersFor([victim], options.Seed).Count > 0)
        {
            var aloneRequest = new RunRequest("bisect: alone", RunOrderKind.List, "none", options.Seed, Parallel: false, [victim]);
            var (alone, note) = await RunCarryingAsync(aloneRequest, victim, $"the bisection's run alone of {victim}", cancellationToken).ConfigureAwait(false);
            steps.Add($"alone (the bisection's run alone, made before the replay so that chaos suspects ride along): {Outcome(alone, victim)}");
            steps.Add(note!);
            if (alone.FailedTest(victim))
            {
                if (await StateSetterAsync(victim, steps, message, cancellationToken).ConfigureAwait(false) is { } brittle)
                {
                    return brittle;
                }

                return new Finding(victim, FlakeCause.Nondeterministic, null,
                    $"Failed after {prefixes.First().Describe}, but it fails alone too, while it passed in other runs: it fails with nothing changed.",
                    runner.ReproduceCommand(aloneRequest), steps) { Message = message };
            }

            knownPassesAlone = true;
            if (ChanceFinding(victim, steps, message) is { } chance)
            {
                return chance; // it failed when it ran first in a survey run with the same seed
            }
        }

        // The fewest tests before the victim first: the cheapest bisection.
        foreach (var prefix in prefixes.Where(p => p.Before.Count > 0).OrderBy(p => p.Before.Count).Take(3).SelectMany(p => LikelyFirst(victim, p)))
        {
            // An exact replay keeps the run's seed, and nothing runs before its tests.
            var exact = IsExact(prefix, victim);
            var replayRequest = new RunRequest($"replay of {prefix.Run.Request.Name}", RunOrderKind.List, "none", exact ? prefix.Run.Request.Seed : options.Seed, Parallel: false, [.. prefix.Before, victim]);
            var (replay, note) = await RunCarryingAsync(replayRequest, victim, $"the replay of '{prefix.Run.Request.Name}' for {victim}", cancellationToken, exact: exact).ConfigureAwait(false);
            steps.Add($"{prefix.Describe}, then it, one at a time: {Outcome(replay, victim)}");
            if (note is not null)
            {
                steps.Add(note);
            }

            if (ChanceFinding(victim, steps, message) is { } chance)
            {
                return chance;
            }

            if (!replay.FailedTest(victim))
            {
                if (exact)
                {
                    // The very tests that ran before it there, in the same order, one at a time, and it passed: that
                    // failure was not the order's. No other list is replayed for it.
                    steps.Add($"the failure in '{prefix.Run.Request.Name}' did not come back with the same tests before it: no other list is replayed");
                    break;
                }

                continue;
            }

            var (bisect, passesAlone) = await FailsAgainWhenAllClearedAsync(victim, prefix.Before, replayRequest, knownPassesAlone, steps, cancellationToken).ConfigureAwait(false);
            knownPassesAlone |= passesAlone;
            if (ChanceFinding(victim, steps, message) is { } twice)
            {
                return twice; // the same list again, or its run alone, disagreed with a run before
            }

            if (!bisect)
            {
                break;
            }

            return await BisectAsync(victim, prefix, knownPassesAlone, steps, message, cancellationToken).ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>
    /// The lists to replay for <paramref name="prefix"/>: when the runs single out fewer of its tests (every run one at a
    /// time where the victim failed had them before it, and no run saw it pass after them), those first — failing, the
    /// bisection starts from them (one test: it is named) — then, if they passed, the whole list. A list that can be
    /// replayed exactly is replayed whole first unless one test is singled out: only an exact replay can show chance, and
    /// a bisection of a test failing at random can take many runs.
    /// </summary>
    private IEnumerable<Prefix> LikelyFirst(string victim, Prefix prefix)
    {
        if (SingledOut(victim, prefix.Before, [], brittle: false) is { Count: > 0 } singled && singled.Count < prefix.Before.Count
            && (singled.Count == 1 || !IsExact(prefix, victim)))
        {
            yield return prefix with { Before = [.. prefix.Before.Where(singled.Contains)], What = $"{prefix.What} and no run saw it pass after" };
        }

        yield return prefix;
    }

    /// <summary>
    /// Before a bisection: when every test of <paramref name="before"/> is cleared for the victim (a run saw it pass after
    /// each), no one of them breaks it alone, so the failure is most likely chance, or the victim fails without some
    /// test it needs (brittle). So it is first run alone (unless known to pass alone: the bisection needs that run
    /// anyway), and a failure there ends the order search (the caller looks for a state-setter); then the same list is
    /// run once more, and only a second failure is bisected (a test failing at random 30% of the time fails it again in
    /// 30% of hunts; a real polluter, which a cleaner hid in the runs that cleared it, costs one run more).
    /// </summary>
    /// <returns>Whether to bisect, and whether the victim was seen passing alone here.</returns>
    private async Task<(bool Bisect, bool PassesAlone)> FailsAgainWhenAllClearedAsync(string victim, IReadOnlyList<string> before, RunRequest request, bool knownPassesAlone, List<string> steps, CancellationToken cancellationToken)
    {
        var cleared = OrderEvidence.Cleared(victim, _runs);
        if (before.Count == 0 || !before.All(cleared.Contains))
        {
            return (true, false);
        }

        if (!knownPassesAlone)
        {
            var aloneRequest = new RunRequest("bisect: alone", RunOrderKind.List, "none", options.Seed, Parallel: false, [victim]);
            var (alone, aloneNote) = await RunCarryingAsync(aloneRequest, victim, $"the bisection's run alone of {victim}", cancellationToken).ConfigureAwait(false);
            steps.Add($"every one of those tests was cleared (a run saw it pass after each), so first alone: {Outcome(alone, victim)}");
            if (aloneNote is not null)
            {
                steps.Add(aloneNote);
            }

            if (alone.FailedTest(victim))
            {
                return (false, false);
            }
        }

        var (again, note) = await RunCarryingAsync(request with { Name = $"{request.Name}, again" }, victim, $"the second replay for {victim}", cancellationToken, exact: true).ConfigureAwait(false);
        steps.Add($"every one of those tests was cleared (a run saw it pass after each), so the same list again: {Outcome(again, victim)}");
        if (note is not null)
        {
            steps.Add(note);
        }

        return (again.FailedTest(victim), true);
    }

    private async Task<Finding> BisectAsync(string victim, Prefix prefix, bool knownPassesAlone, List<string> steps, string? message, CancellationToken cancellationToken)
    {
        var before = prefix.Before;
        var result = await BisectPrefixAsync(victim, before, knownPassesAlone, steps, cancellationToken).ConfigureAwait(false);
        if (result.Verdict == BisectionVerdict.FailsAlone)
        {
            if (await StateSetterAsync(victim, steps, message, cancellationToken).ConfigureAwait(false) is { } brittle)
            {
                return brittle;
            }

            return new Finding(victim, FlakeCause.Nondeterministic, null,
                $"Failed after {prefix.Describe}, but it fails alone too, while it passed in other runs: it fails with nothing changed.",
                runner.ReproduceCommand(new RunRequest("alone", RunOrderKind.List, "none", options.Seed, Parallel: false, [victim])), steps) { Message = message };
        }

        if (result.Verdict != BisectionVerdict.Polluted)
        {
            return new Finding(victim, FlakeCause.Nondeterministic, null,
                $"Failed after {prefix.Describe}, but bisection could not make it fail again ({Bisector.RunCount(result.Runs)}).",
                prefix.Run.Reproduce, steps) { Message = message };
        }

        if (ChanceFinding(victim, steps, message) is { } chance)
        {
            return chance; // a bisection run repeated a run before it exactly, with the other outcome
        }

        var first = result.Polluters[0];
        var polluter = string.Join(" + ", first);
        var named = $"{(before.Count == 1 ? "the replay of the two" : $"bisection ({Bisector.RunCount(result.Runs)})")} names {polluter}";
        var found = result.Polluters.ToList();
        var from = _runs.Count;
        if (OrderEvidence.Of(victim, first, _runs).Contradiction is { } passedAfter && passedAfter.PassedTest(victim))
        {
            // A run already saw it pass right after the polluter: it will not be named, whatever other polluters there are.
            steps.Add($"other polluters: not looked for; in '{passedAfter.Request.Name}' it passed after {polluter}");
        }
        else
        {
            if (UnexplainedFailures(victim, found).Length > 0 && await DeferSearchAsync(victim, found).ConfigureAwait(false))
            {
                var watched = _runs.Skip(from).Count(r => r.OutcomeOf(victim) is not null && r.RanBefore(victim).Count > 0 && !found.Any(set => set.Any(r.RanBefore(victim).Contains)));
                steps.Add(string.Create(CultureInfo.InvariantCulture,
                    $"other polluters: the search waited until the other order cases were diagnosed; meanwhile it ran last in {watched} of their runs with none of its polluters found before it, so that they cleared or singled out the tests before it"));
            }

            await MorePollutersAsync(victim, found, steps, cancellationToken).ConfigureAwait(false);
            if (ChanceFinding(victim, steps, message) is { } replayed)
            {
                return replayed; // the search for more replayed a failing run exactly, and it passed: no confirmation is made
            }
        }

        var evidence = await ConfirmAsync(victim, found, steps, cancellationToken).ConfigureAwait(false);
        if (!evidence.Confirmed)
        {
            // Not blamed: a victim that fails at random is no polluter's victim, however the bisection fell.
            return new Finding(victim, FlakeCause.Nondeterministic, null,
                $"Failed after {prefix.Describe}, and {named}, but {evidence.Shortfall}: no polluter is named. It {OrderEvidence.FailureRate(victim, _runs)}.",
                SmallestFailingReplay(victim) ?? prefix.Run.Reproduce, steps) { Message = message };
        }

        var reproduce = runner.ReproduceCommand(new RunRequest("reproduce", RunOrderKind.List, "none", options.Seed, Parallel: false, [.. first, victim]));
        var confirmedOthers = await ConfirmOthersAsync(victim, found, steps, cancellationToken).ConfigureAwait(false);
        if (confirmedOthers.Count < found.Count - 1 && OrderEvidence.Of(victim, first, _runs, confirmedOthers).Contradiction is { } contradiction)
        {
            // A failure that only a polluter now left out explained: the named ones do not explain every run.
            return new Finding(victim, FlakeCause.Nondeterministic, null,
                $"Failed after {prefix.Describe}, and {named}, but in '{contradiction.Request.Name}' it failed with none of the confirmed polluters before it: no polluter is named. It {OrderEvidence.FailureRate(victim, _runs)}.",
                SmallestFailingReplay(victim) ?? prefix.Run.Reproduce, steps) { Message = message };
        }

        var others = confirmedOthers.Select(p => string.Join(" + ", p)).ToArray();
        _orderHypotheses[victim] = ([first, .. confirmedOthers], false);
        return new Finding(victim, FlakeCause.TestOrder, polluter,
            string.Create(CultureInfo.InvariantCulture,
                $"Passes alone; fails after {prefix.Describe}; {named}{(others.Length > 0 ? $", and independently {string.Join(", ", others)}" : string.Empty)}. Over this hunt's runs it {evidence.Summary}."),
            reproduce, steps)
        { OtherPolluters = others, Message = message, Role = TestOrderRole.Polluted };
    }

    /// <summary>
    /// Confirms "fails after the first of <paramref name="polluters"/>, passes alone" by repetition (<see cref="OrderEvidence.Confirmations"/>
    /// times each; every run of the hunt counts for "alone" and against the polluter, only the runs made here for "after"),
    /// alone and after the polluter in turn, the half seen fewer times first; stops at the first run that disagrees (it
    /// fails alone, or passes after the polluter). <paramref name="brittle"/>: confirms "fails alone, passes after the
    /// first of them" (state-setters) the same way. Chaos suspects ride along after the victim, as in the other runs of
    /// an order case.
    /// </summary>
    private async Task<OrderEvidence> ConfirmAsync(string victim, IReadOnlyList<IReadOnlyList<string>> polluters, List<string> steps, CancellationToken cancellationToken, bool brittle = false)
    {
        if (_pool is { } pool)
        {
            // The order phase: made together with the other order cases' confirmations.
            return await ConfirmSharedAsync(pool, victim, polluters, steps, brittle).ConfigureAwait(false);
        }

        const int k = OrderEvidence.Confirmations;
        var polluter = polluters[0];
        var from = _runs.Count;
        var evidence = OrderEvidence.Of(victim, polluter, _runs, polluters.Skip(1), from, brittle);
        var made = 0;
        var (aloneWord, afterWord) = brittle ? ("failed", "passed") : ("passed", "failed");
        while (evidence.Contradiction is null && !evidence.Confirmed)
        {
            var alone = evidence.PassedAlone < k && (evidence.PassedAlone <= evidence.FailedAfter || evidence.FailedAfter >= k);
            var request = new RunRequest(alone ? "confirm: alone" : brittle ? "confirm: after the state-setter" : "confirm: after the polluter", RunOrderKind.List, "none", options.Seed, Parallel: false,
                alone ? [victim] : [.. polluter, victim]);
            var (run, note) = await RunCarryingAsync(request, victim, $"a confirmation run for {victim}", cancellationToken).ConfigureAwait(false);
            made++;
            steps.Add($"confirm, {(alone ? "alone" : $"after {string.Join(" + ", polluter)}")}: {Outcome(run, victim)}");
            if (note is not null)
            {
                steps.Add(note);
            }

            evidence = OrderEvidence.Of(victim, polluter, _runs, polluters.Skip(1), from, brittle);
            var expectedToFail = brittle ? alone : !alone;
            if (run.FailedTest(victim) != expectedToFail)
            {
                break;
            }
        }

        steps.Add(string.Create(CultureInfo.InvariantCulture,
            $"confirmation ({Bisector.RunCount(made)} made for it): {aloneWord} alone {evidence.PassedAlone}, {afterWord} after {string.Join(" + ", polluter)} {evidence.FailedAfter} times (needs {k} each){(evidence.Contradiction is { } c ? $"; contradicted by '{c.Request.Name}'" : string.Empty)}"));
        return evidence;
    }

    /// <summary>
    /// The replay of the smallest failure of the test without chaos on itself: of a run one at a time made of a list,
    /// only the tests up to it (nothing after it changes its result, so other victims' groups and chaos suspects that ran
    /// after it in a shared run are left out: the command names only the tests it needs); otherwise the run's own command.
    /// </summary>
    private string? SmallestFailingReplay(string test)
    {
        static bool Trimmable(RunResult r) => r.Request.Order == RunOrderKind.List && !r.Request.Parallel;
        var run = _runs.Where(r => r.FailedTest(test) && r.Request.ChaosOf(test) == "none")
            .OrderBy(r => Trimmable(r) ? r.RanBefore(test).Count + 1 : r.Tests.Count).FirstOrDefault();
        if (run is null || !Trimmable(run))
        {
            return run?.Reproduce;
        }

        string[] tests = [.. run.RanBefore(test), test];
        var chaos = run.Request.TestChaos?.Where(p => tests.Contains(p.Key, StringComparer.Ordinal)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        return tests.Length == run.Tests.Count ? run.Reproduce
            : runner.ReproduceCommand(run.Request with { Tests = tests, TestChaos = chaos is { Count: > 0 } ? chaos : null });
    }
}
