using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>The hunt's parallel collisions: ranking the partners, pair runs, and the evidence that it is not an order effect.</summary>
internal sealed partial class Hunter
{
    /// <summary>
    /// The tests that failed in the same parallel runs as the victim, most likely partner first: the ones that ran at
    /// the same time as it (a collision needs both running); of those, first the ones whose failures are not
    /// explained otherwise yet; then by the number of runs they ran at the same time, and failed together; then by
    /// how much their failure messages and names share with the victim's (two tests fighting over one account or one
    /// setup step tend to fail with the same numbers and be named after the same thing), so that when every
    /// candidate ran at the same time, a wrong pair run (each costs a whole run) is tried last.
    /// </summary>
    private (string Test, int Concurrent)[] RankPartners(string victim, Facts facts, IReadOnlyList<string> suspects)
    {
        var suspectSet = suspects.ToHashSet(StringComparer.Ordinal);
        var parallelFailures = facts.FailedIn.Where(r => r.Request.Parallel).ToArray();
        var victimWords = PartnerSimilarity.Words(victim, parallelFailures.Select(r => r.MessageOf(victim)));
        return parallelFailures
            .SelectMany(run => run.Tests.Where(t => !t.Passed && t.TestId != victim && suspectSet.Contains(t.TestId))
                .Select(t => (t.TestId, Concurrent: run.OutcomeOf(victim)!.OverlapsWith(t) != false)))
            .GroupBy(x => x.TestId, StringComparer.Ordinal)
            .Select(g => (Test: g.Key, Concurrent: g.Count(x => x.Concurrent), CoFailures: g.Count(),
                Similarity: PartnerSimilarity.Score(victimWords, PartnerSimilarity.Words(g.Key, parallelFailures.Select(r => r.MessageOf(g.Key))))))
            .OrderByDescending(c => c.Concurrent > 0)
            .ThenBy(c => ExplainedWithout(c.Test, victim))
            .ThenByDescending(c => c.Concurrent)
            .ThenByDescending(c => c.CoFailures)
            .ThenByDescending(c => c.Similarity)
            .Select(c => (c.Test, c.Concurrent))
            .ToArray();
    }

    /// <summary>Its failures are already explained by something other than the victim.</summary>
    private bool ExplainedWithout(string test, string victim)
        => _explained.TryGetValue(test, out var finding) && !(finding.Cause == FlakeCause.ParallelCollision && finding.Polluter == victim);

    /// <summary>A parallel collision with its evidence, or null when it did not fail in parallel again.</summary>
    private async Task<Finding?> CollisionAsync(string victim, Facts facts, string? partner, string[] alongside, List<string> steps, string? message, CancellationToken cancellationToken)
    {
        var parallelFailures = facts.FailedIn.Where(r => r.Request.Parallel).ToArray();
        RunResult? pair = partner is null ? null : _pairRuns[PairKey(victim, partner)];
        var failedAgain = pair?.FailedTest(victim) == true || parallelFailures.Length >= 2;
        if (!failedAgain)
        {
            _parallelConfirm ??= await DiagnosticAsync(Filtered(new RunRequest("parallel again", RunOrderKind.Default, "none", options.Seed, Parallel: true)), cancellationToken).ConfigureAwait(false);
            steps.Add($"parallel again: {Outcome(_parallelConfirm, victim)}");
            if (!_parallelConfirm.FailedTest(victim))
            {
                return null;
            }
        }

        var sequentialRuns = facts.SequentialPasses.Append(_sequentialDefault).OfType<RunResult>().Where(r => r.PassedTest(victim)).ToArray();

        // Confirm before blaming: the suite's parallel runs are evidence too. A collision predicts a failure whenever
        // the suite runs in parallel, so it must have failed in most of them (a test failing at random 30% of the
        // time fails in 3 of 5 in 16% of hunts); without a partner to replay, in 3 of them, with at most one pass (3%).
        var parallelRuns = _runs.Where(r => r.Request.Parallel && r.OutcomeOf(victim) is not null && (r.Request.Tests?.Count ?? int.MaxValue) > 2).ToArray();
        var parallelFailed = parallelRuns.Count(r => r.FailedTest(victim));
        steps.Add(partner is null
            ? $"confirm: failed in {parallelFailed} of {parallelRuns.Length} parallel runs of the suite (needs {OrderEvidence.Confirmations}, at most one pass)"
            : $"confirm: failed in {parallelFailed} of {parallelRuns.Length} parallel runs of the suite (needs more than half)");
        if (partner is null ? parallelFailed < OrderEvidence.Confirmations || parallelRuns.Length - parallelFailed > 1 : parallelFailed * 2 <= parallelRuns.Length)
        {
            return null;
        }

        if (partner is null)
        {

            steps.Add($"one at a time: passed in all {Bisector.RunCount(sequentialRuns.Length)}");
            var reproduce = parallelFailures.FirstOrDefault(r => r.Request.Chaos == "none") ?? (_parallelConfirm?.FailedTest(victim) == true ? _parallelConfirm : parallelFailures[0]);
            return new Finding(victim, FlakeCause.ParallelCollision, null,
                $"Fails when collections run in parallel ({facts.FailedNames}); passes in all {sequentialRuns.Length} one-at-a-time run{(sequentialRuns.Length == 1 ? string.Empty : "s")}.{(alongside.Length == 0 ? string.Empty : $" Also failing in the same parallel runs: {string.Join(", ", alongside)}.")}",
                reproduce.Reproduce, steps) { Message = message };
        }

        // Not an order effect of the partner: it passed one at a time with the partner before it.
        var after = sequentialRuns.FirstOrDefault(r => !r.FailedTest(victim) && r.RanBefore(victim).Contains(partner, StringComparer.Ordinal));
        if (after is null)
        {
            var key = (partner, victim);
            if (!_afterRuns.TryGetValue(key, out after))
            {
                after = await DiagnosticAsync(new RunRequest("pair one at a time", RunOrderKind.List, "none", options.Seed, Parallel: false, [partner, victim]), cancellationToken).ConfigureAwait(false);
                _afterRuns[key] = after;
            }

            if (after.FailedTest(victim))
            {
                // It fails after the partner one at a time too: an order effect, not a collision.
                steps.Add($"after {partner}, one at a time: failed");
                return await BisectAsync(victim, new Prefix(after, [partner], "that ran before it"), facts.PassedFirst is not null, steps, message, cancellationToken).ConfigureAwait(false);
            }
        }

        // Confirm before blaming: a test failing at random fails a pair run now and then by chance.
        var (confirmed, pairRuns, failures) = await ConfirmPairAsync(victim, partner, cancellationToken).ConfigureAwait(false);
        steps.Add($"confirm: in parallel with {partner} alone, it failed {failures} of {pairRuns.Count} runs (needs {OrderEvidence.Confirmations})");
        if (!confirmed)
        {
            return null;
        }

        steps.Add($"one at a time: passed in all {sequentialRuns.Length} runs; with {partner} before it in '{after.Request.Name}': passed");
        var reproduceRun = pair!.FailedTest(victim) ? pair : parallelFailures.FirstOrDefault(r => r.Request.Chaos == "none") ?? parallelFailures[0];
        return new Finding(victim, FlakeCause.ParallelCollision, partner,
            $"Fails when collections run in parallel ({facts.FailedNames}); run in parallel with {partner} alone, {(pair.FailedTest(victim) ? "it fails" : $"{partner} fails")}; passes one at a time, also right after {partner} ('{after.Request.Name}').",
            reproduceRun.Reproduce, steps) { Message = message };
    }

    /// <summary>
    /// Runs the pair in parallel again (the runs serve both tests of the pair) until the victim failed in
    /// <see cref="OrderEvidence.Confirmations"/> of them; a pass stops it unconfirmed (a test failing at random 30% of
    /// the time fails 2 more pair runs in 9% of the pairs that first failed by chance, and must also have failed in
    /// most parallel runs of the suite).
    /// </summary>
    private async Task<(bool Confirmed, List<RunResult> Runs, int Failures)> ConfirmPairAsync(string victim, string partner, CancellationToken cancellationToken)
    {
        var key = PairKey(victim, partner);
        if (!_pairConfirmations.TryGetValue(key, out var runs))
        {
            runs = [_pairRuns[key]];
            _pairConfirmations[key] = runs;
        }

        const int needed = OrderEvidence.Confirmations;
        int Failures() => runs.Count(r => r.FailedTest(victim));
        while (Failures() < needed && runs.Count == Failures())
        {
            runs.Add(await DiagnosticAsync(PairRequest(victim, partner) with { Name = "confirm: pair in parallel" }, cancellationToken).ConfigureAwait(false));
        }

        return (Failures() >= needed, runs, Failures());
    }

    private static (string, string) PairKey(string a, string b) => string.CompareOrdinal(a, b) < 0 ? (a, b) : (b, a);

    private RunRequest PairRequest(string a, string b) => new("pair in parallel", RunOrderKind.Default, "none", options.Seed, Parallel: true, [a, b]);

    /// <summary>The test it collides with: the first candidate that makes it (or itself) fail when only the two run, in parallel.</summary>
    private async Task<string?> FindPartnerAsync(string victim, IReadOnlyList<string> candidates, List<string> steps, CancellationToken cancellationToken)
    {
        foreach (var other in candidates.Take(5))
        {
            var key = PairKey(victim, other);
            if (!_pairRuns.TryGetValue(key, out var pair))
            {
                pair = await DiagnosticAsync(PairRequest(victim, other), cancellationToken).ConfigureAwait(false);
                _pairRuns[key] = pair;
            }

            var fails = pair.FailedTest(victim) || pair.FailedTest(other);
            steps.Add(fails && !pair.FailedTest(victim)
                ? $"with {other} in parallel: {other} failed"
                : $"with {other} in parallel: {(fails ? "failed" : "passed")}");
            if (fails)
            {
                return other;
            }
        }

        return null;
    }
}
