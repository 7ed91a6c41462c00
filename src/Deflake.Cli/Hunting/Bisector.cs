using System.Globalization;

namespace Deflake.Cli.Hunting;

/// <summary>Whether the victim fails when the given tests run before it (in the given order), victim last.</summary>
internal delegate Task<bool> VictimFailsAfter(IReadOnlyList<string> before, CancellationToken cancellationToken);

/// <summary>What a bisection concluded.</summary>
internal enum BisectionVerdict
{
    /// <summary>Polluters found: the victim passes alone and fails after them.</summary>
    Polluted,

    /// <summary>The victim fails alone: it does not depend on other tests.</summary>
    FailsAlone,

    /// <summary>The victim passed after the full list: the failure did not reproduce.</summary>
    NotReproduced,
}

/// <summary>The outcome of a bisection.</summary>
/// <param name="Verdict">What it concluded.</param>
/// <param name="Polluters">
/// Each entry is one minimal set of tests that, run before the victim, makes it fail: usually one test; several when
/// only their combination pollutes. A second entry means a second, independent polluter.
/// </param>
/// <param name="Runs">How many test runs it took in all.</param>
/// <param name="RunsToFirstPolluter">How many runs it took to name the first polluter (the rest looks for others).</param>
/// <param name="Steps">What was run and what happened, for the report's evidence.</param>
internal sealed record BisectionResult(BisectionVerdict Verdict, IReadOnlyList<IReadOnlyList<string>> Polluters, int Runs, int RunsToFirstPolluter, IReadOnlyList<string> Steps);

/// <summary>
/// Finds the tests that make a victim fail when they run before it. Confirms the victim passes alone and fails after
/// the full list; then halves, keeping a half that still makes it fail, checking only the first half each step so
/// one polluter among N tests costs ⌈log2 N⌉ + 3 runs; when halving hides the failure (the polluters are spread over
/// both halves and only act together) it falls back to delta debugging (ddmin), which finds a 1-minimal set.
/// After a polluter is found it looks for independent others among the remaining tests. A hint of
/// <see cref="Unlikely"/> tests (the survey saw the victim pass after them) orders the halving so that the likely
/// polluters are run first; a wrong hint costs no more than no hint.
/// </summary>
internal sealed class Bisector(VictimFailsAfter failsAfter, int maxPolluters = 3)
{
    /// <summary>"1 run", "2 runs": for messages.</summary>
    internal static string RunCount(int runs) => runs == 1 ? "1 run" : string.Create(CultureInfo.InvariantCulture, $"{runs} runs");

    /// <summary>
    /// Tests unlikely to be (sole) polluters: they ran before the victim in a run where it passed. Halving puts the
    /// others first, so a polluter among them is in every half that is run (no closing run alone is needed) — but
    /// the halves stay halves, so a wrong hint (a cleaner ran between them in that run) is still found in the same
    /// number of runs.
    /// </summary>
    public IReadOnlySet<string> Unlikely { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// Tests the runs already made single out (for a hunt: every run where the victim failed had them before it, and no
    /// run cleared them). When they are fewer than the candidates, the search for the first polluter runs exactly them
    /// first: right, it goes on among them alone (one run when there is one); wrong, among the rest, at one run more.
    /// </summary>
    public IReadOnlySet<string> Likely { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// The outcomes' words in the steps: what the victim did when the predicate held, and when it did not. "failed" and
    /// "passed" when searching for polluters; swapped when searching for state-setters (the predicate is "it passes after").
    /// </summary>
    public (string Hit, string Miss) Words { get; init; } = ("failed", "passed");

    private int _runs;
    private int _runsToFirst;
    private readonly List<string> _steps = [];
    private readonly Dictionary<string, (bool Fails, int Run)> _known = new(StringComparer.Ordinal);

    /// <summary>Bisects <paramref name="candidates"/>.</summary>
    /// <param name="candidates">The tests that ran before the victim, in their order.</param>
    /// <param name="knownPassesAlone">Skip confirming the victim passes alone (the caller just saw it pass).</param>
    /// <param name="knownFailsAfterAll">Skip confirming the victim fails after all candidates (the caller just saw it fail).</param>
    /// <param name="cancellationToken">Cancels the runs.</param>
    public async Task<BisectionResult> BisectAsync(IReadOnlyList<string> candidates, bool knownPassesAlone = false, bool knownFailsAfterAll = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        _runs = 0;
        _runsToFirst = 0;
        _steps.Clear();
        _known.Clear();
        if (knownPassesAlone)
        {
            _known[string.Empty] = (false, 0);
        }

        if (knownFailsAfterAll)
        {
            _known[string.Join('\n', candidates)] = (true, 0);
        }

        if (!knownPassesAlone && await FailsAsync([], "alone", cancellationToken).ConfigureAwait(false))
        {
            return Result(BisectionVerdict.FailsAlone, []);
        }

        var remaining = candidates.ToList();
        var polluters = new List<IReadOnlyList<string>>();
        while (polluters.Count < maxPolluters && remaining.Count > 0)
        {
            if (polluters.Count > 0 && remaining.All(Unlikely.Contains))
            {
                // The hint says none of the rest pollutes alone: it passed after each of them.
                _steps.Add($"no search for another polluter: the survey saw it pass after each of the {remaining.Count} remaining tests");
                break;
            }

            var label = polluters.Count == 0 ? "after all tests that ran before it" : "after the remaining tests, found polluters removed";
            var skipConfirm = polluters.Count == 0 && knownFailsAfterAll;
            if (!skipConfirm && !await FailsAsync(remaining, label, cancellationToken).ConfigureAwait(false))
            {
                break;
            }

            var found = await IsolateAsync(remaining, cancellationToken).ConfigureAwait(false);
            if (found.Count == 0)
            {
                break; // the failure did not come back
            }

            polluters.Add(found);
            if (polluters.Count == 1)
            {
                _runsToFirst = _runs;
            }

            remaining = remaining.Where(t => !found.Contains(t, StringComparer.Ordinal)).ToList();
        }

        return Result(polluters.Count == 0 ? BisectionVerdict.NotReproduced : BisectionVerdict.Polluted, polluters);
    }

    /// <summary><paramref name="failing"/> is known to make the victim fail; returns a minimal subset that still does.</summary>
    private async Task<IReadOnlyList<string>> IsolateAsync(List<string> failing, CancellationToken cancellationToken)
    {
        // Binary search assuming a single polluter: test the first half only; if it does not fail, move to the
        // second half without spending a run on it. A final run confirms the single test (unless its half was run).
        // The halves are taken from the list ranked likely polluters first (a stable sort: without a hint, the list
        // itself); every run keeps the tests' own relative order.
        var position = failing.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i, StringComparer.Ordinal);
        IReadOnlyList<string> InOrder(IEnumerable<string> tests) => tests.OrderBy(t => position[t]).ToArray();
        IReadOnlyList<string> known = failing;
        var current = failing.OrderBy(t => Likely.Contains(t) ? 0 : Unlikely.Contains(t) ? 2 : 1).ToArray();
        var likely = InOrder(failing.Where(Likely.Contains));
        if (likely.Count > 0 && likely.Count * 2 <= failing.Count)
        {
            // What the runs single out, run on its own first.
            if (await FailsAsync(likely, likely.Count == 1 ? $"after {likely[0]} only, the one test every run where it {Words.Hit} had before it"
                : $"after the {likely.Count} tests every run where it {Words.Hit} had before it", cancellationToken).ConfigureAwait(false))
            {
                current = [.. likely];
                known = likely;
            }
            else
            {
                current = current.Where(t => !Likely.Contains(t)).ToArray();
            }
        }

        while (current.Length > 1)
        {
            var half = current.Length / 2;
            var firstRanked = current.Take(half).ToArray();
            var first = InOrder(firstRanked);
            var ranked = !first.SequenceEqual(firstRanked, StringComparer.Ordinal) || current.Any(Unlikely.Contains);
            var label = first.Count == 1 ? $"after {first[0]} only"
                : ranked ? $"after the {first.Count} likeliest of {current.Length} tests"
                : $"first half ({first.Count} tests)";
            if (await FailsAsync(first, label, cancellationToken).ConfigureAwait(false))
            {
                current = firstRanked;
                known = first;
            }
            else
            {
                current = current.Skip(half).ToArray();
            }
        }

        if (known.SequenceEqual(current, StringComparer.Ordinal) || await FailsAsync(current, $"suspect {current[0]} alone", cancellationToken).ConfigureAwait(false))
        {
            return current;
        }

        // The failure needs tests from both halves of some split — or it came by chance. The last set known to fail is
        // run again first (a test failing at random passes it most of the time, and delta debugging it would take many
        // runs); failing again, delta debugging on it.
        _runs++;
        var again = await failsAfter(known, cancellationToken).ConfigureAwait(false);
        _steps.Add($"run {_runs}: halving hid the failure; victim after the {known.Count} tests of the last list after which it {Words.Hit}, again: {(again ? Words.Hit : Words.Miss)}");
        if (!again)
        {
            return [];
        }

        _steps.Add($"delta debugging over {known.Count} tests");
        return await DeltaDebugAsync(known, cancellationToken).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<string>> DeltaDebugAsync(IReadOnlyList<string> failing, CancellationToken cancellationToken)
    {
        var current = failing.ToList();
        var granularity = 2;
        while (current.Count >= 2)
        {
            var chunks = Split(current, granularity);
            var reduced = false;
            foreach (var chunk in chunks)
            {
                if (await FailsAsync(chunk, $"subset of {chunk.Count}", cancellationToken).ConfigureAwait(false))
                {
                    current = chunk;
                    granularity = 2;
                    reduced = true;
                    break;
                }
            }

            if (!reduced && granularity > 2)
            {
                foreach (var chunk in chunks)
                {
                    var complement = current.Where(t => !chunk.Contains(t, StringComparer.Ordinal)).ToList();
                    if (await FailsAsync(complement, $"complement of {complement.Count}", cancellationToken).ConfigureAwait(false))
                    {
                        current = complement;
                        granularity = Math.Max(granularity - 1, 2);
                        reduced = true;
                        break;
                    }
                }
            }

            if (!reduced)
            {
                if (granularity >= current.Count)
                {
                    break;
                }

                granularity = Math.Min(granularity * 2, current.Count);
            }
        }

        return current;
    }

    private static List<List<string>> Split(List<string> items, int parts)
    {
        var result = new List<List<string>>(parts);
        var start = 0;
        for (var i = 0; i < parts; i++)
        {
            var size = (items.Count - start) / (parts - i);
            result.Add(items.GetRange(start, size));
            start += size;
        }

        return result.Where(c => c.Count > 0).ToList();
    }

    private async Task<bool> FailsAsync(IReadOnlyList<string> before, string label, CancellationToken cancellationToken)
    {
        // The same list in the same order was run already (e.g. the check for a second polluter after halving): reuse it.
        var key = string.Join('\n', before);
        if (_known.TryGetValue(key, out var known))
        {
            _steps.Add($"victim {label}: {(known.Fails ? Words.Hit : Words.Miss)} ({(known.Run == 0 ? "known before bisection" : $"run {known.Run}")}, not run again)");
            return known.Fails;
        }

        _runs++;
        var fails = await failsAfter(before, cancellationToken).ConfigureAwait(false);
        _steps.Add($"run {_runs}: victim {label}: {(fails ? Words.Hit : Words.Miss)}");
        _known[key] = (fails, _runs);
        return fails;
    }

    private BisectionResult Result(BisectionVerdict verdict, IReadOnlyList<IReadOnlyList<string>> polluters)
        => new(verdict, polluters, _runs, _runsToFirst, _steps.ToArray());
}
