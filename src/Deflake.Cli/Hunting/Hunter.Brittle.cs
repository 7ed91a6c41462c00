using System.Globalization;
using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>
/// Brittle tests: a test that fails alone but passed in some run passes only because a test that ran before it there
/// (its state-setter) set up what it needs. The search mirrors the one for polluters: replay the tests that ran before
/// it in a run where it passed, bisect them to the one that makes it pass, and confirm by repetition (fails alone 3
/// times, passes after the setter 3 times in runs made after it was named, no run contradicting).
/// </summary>
internal sealed partial class Hunter
{
    /// <summary>How many runs in which the victim passed are replayed, smallest first, looking for its state-setter.</summary>
    private const int SetterReplays = 2;

    /// <summary>
    /// For a victim known to fail alone: the runs where it passed after other tests, replayed and bisected to the
    /// test that makes it pass. Null: it never passed after other tests, no replay passed, or no setter was confirmed
    /// (the caller reports what it would have without the search).
    /// </summary>
    private async Task<Finding?> StateSetterAsync(string victim, List<string> steps, string? message, CancellationToken cancellationToken)
    {
        var prefixes = PassingPrefixes(victim);
        if (prefixes.Length == 0)
        {
            return null;
        }

        if (_runs.FirstOrDefault(r => !r.Request.Parallel && r.PassedTest(victim) && r.Request.ChaosOf(victim) == "none" && r.RanBefore(victim).Count == 0) is { } passedAlone)
        {
            // A brittle test fails alone every time: one that passed alone has no state-setter to find (any setter named
            // would be contradicted by that run), so no run is spent looking for one.
            steps.Add($"brittle? no: it passed alone in '{passedAlone.Request.Name}'");
            return null;
        }

        var aloneRequest = new RunRequest("alone again", RunOrderKind.List, "none", options.Seed, Parallel: false, [victim]);
        if (_runs.Count(r => !r.Request.Parallel && r.FailedTest(victim) && r.Request.ChaosOf(victim) == "none" && r.RanBefore(victim).Count == 0) < 2)
        {
            // Seen failing alone once: a brittle test fails alone every time, a test failing at random now and then. A
            // second run alone tells them apart before a search (a failure there is one of the 3 a setter needs anyway).
            var (again, note) = await RunCarryingAsync(aloneRequest, victim, $"the second run alone of {victim}", cancellationToken).ConfigureAwait(false);
            steps.Add($"brittle? it failed alone; alone again: {Outcome(again, victim)}");
            if (note is not null)
            {
                steps.Add(note);
            }

            if (again.PassedTest(victim))
            {
                return ChanceFinding(victim, steps, message);
            }
        }

        // The tests every run where it passed had before it, and no run saw it fail after, first when fewer: passing,
        // the bisection starts from them; failing, the whole list is replayed (exactly when it can be).
        foreach (var prefix in prefixes.Take(SetterReplays).SelectMany(p =>
            SingledOut(victim, p.Before, [], brittle: true) is { Count: > 0 } singled && singled.Count < p.Before.Count
                ? new[] { p with { Before = [.. p.Before.Where(singled.Contains)], What = $"{p.What} (those every run where it passed had before it, and no run saw it fail after)" }, p }
                : [p]))
        {
            // Replayed exactly when it can be (its seed, nothing before its tests): a failure there, where it passed,
            // shows it fails by chance, and the search ends.
            var exact = IsExact(prefix, victim);
            var replayRequest = new RunRequest($"replay of {prefix.Run.Request.Name} (state-setter)", RunOrderKind.List, "none", exact ? prefix.Run.Request.Seed : options.Seed, Parallel: false, [.. prefix.Before, victim]);
            var (replay, note) = await RunCarryingAsync(replayRequest, victim, $"the replay of '{prefix.Run.Request.Name}' for {victim}", cancellationToken, brittle: true, exact: exact).ConfigureAwait(false);
            steps.Add($"brittle? it fails alone; {prefix.Describe}, where it passed, then it, one at a time: {Outcome(replay, victim)}");
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
                return await BisectSetterAsync(victim, prefix, steps, message, cancellationToken).ConfigureAwait(false);
            }
        }

        return null;
    }

    /// <summary>
    /// The tests that ran before the victim in runs where it passed without chaos on it or before it (one at a time:
    /// the whole prefix; in parallel: its own collection's), fewest first.
    /// </summary>
    private Prefix[] PassingPrefixes(string victim)
        => _runs.Where(r => r.PassedTest(victim) && r.Request.ChaosOf(victim) == "none")
            .Select(r => new Prefix(r, r.Request.Parallel ? r.RanBeforeInCollection(victim) : r.RanBefore(victim), r.Request.Parallel ? "of its collection that ran before it" : "that ran before it"))
            .Where(p => p.Before.Count > 0 && p.Before.All(t => p.Run.Request.ChaosOf(t) == "none"))
            .DistinctBy(p => string.Join('\n', p.Before), StringComparer.Ordinal)
            .OrderBy(p => p.Before.Count)
            .ToArray();

    private async Task<Finding?> BisectSetterAsync(string victim, Prefix prefix, List<string> steps, string? message, CancellationToken cancellationToken)
    {
        var before = prefix.Before;
        _progress.Status($"bisecting {before.Count} tests for the state-setter of {victim}");
        // The mirror of the polluter hint: a test that ran before it in a run where it failed (one at a time, no chaos)
        // is unlikely to be what makes it pass.
        var cleared = _runs.Where(r => r.Request.Chaos == "none" && r.Request.TestChaos is null && !r.Request.Parallel && r.FailedTest(victim))
            .SelectMany(r => r.RanBefore(victim))
            .Where(before.Contains)
            .ToHashSet(StringComparer.Ordinal);
        var bisector = new Bisector(async (subset, ct) =>
        {
            var request = new RunRequest(subset.Count == 0 ? "bisect setter: alone" : "bisect setter", RunOrderKind.List, "none", options.Seed, Parallel: false, [.. subset, victim]);
            var (run, _) = await RunCarryingAsync(request, victim, $"a state-setter bisection run for {victim} ({subset.Count} tests before it)", ct,
                $"in a state-setter bisection run ({subset.Count} tests, then it)", brittle: true).ConfigureAwait(false);
            return !run.FailedTest(victim);
        }, maxPolluters: 1) // the state-setter that makes it pass: one (a second, independent one is not searched for)
        {
            Unlikely = cleared,
            Likely = SingledOut(victim, before, [], brittle: true),
            Words = ("passed", "failed"),
        };
        // Known: it fails alone (the predicate "passes after" is false for no tests), and passed after the whole prefix.
        var result = await bisector.BisectAsync(before, knownPassesAlone: true, knownFailsAfterAll: true, cancellationToken).ConfigureAwait(false);
        steps.AddRange(result.Steps.Select(s => $"state-setter search: {s}"));
        if (result.Verdict != BisectionVerdict.Polluted)
        {
            steps.Add("state-setter search: no test makes it pass again");
            return null;
        }

        var setter = string.Join(" + ", result.Polluters[0]);
        var evidence = await ConfirmAsync(victim, result.Polluters, steps, cancellationToken, brittle: true).ConfigureAwait(false);
        if (!evidence.Confirmed)
        {
            steps.Add($"state-setter {setter} not confirmed: {evidence.Shortfall}");
            return null;
        }

        var others = result.Polluters.Skip(1).Select(p => string.Join(" + ", p)).ToArray();
        var named = before.Count == 1 ? "the replay of the two" : $"bisection ({Bisector.RunCount(result.Runs)})";
        _orderHypotheses[victim] = (result.Polluters, true);
        return new Finding(victim, FlakeCause.TestOrder, null,
            string.Create(CultureInfo.InvariantCulture,
                $"Brittle: fails alone, but passed after {prefix.Describe}; {named} names the state-setter {setter}{(others.Length > 0 ? $", and independently {string.Join(", ", others)}" : string.Empty)}. Over this hunt's runs it {evidence.Summary}."),
            runner.ReproduceCommand(new RunRequest("alone", RunOrderKind.List, "none", options.Seed, Parallel: false, [victim])), steps)
        {
            Role = TestOrderRole.Brittle,
            StateSetters = [setter, .. others],
            Message = message,
        };
    }
}
