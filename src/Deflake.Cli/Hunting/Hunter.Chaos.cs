using System.Diagnostics;
using System.Globalization;
using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>
/// The hunt's chaos checks and their confirmation (<see cref="ChaosEvidence"/>): riding along after an order victim in
/// runs made anyway, then at most two runs per group of suspects (the check and the confirmation, each shared by all of
/// the group's suspects still open), or a run alone under the mode.
/// </summary>
internal sealed partial class Hunter
{
    /// <summary>What every run so far says about <paramref name="test"/> under <paramref name="mode"/> (with the hunt's seed).</summary>
    private ChaosEvidence ChaosEvidenceOf(string test, string mode) => ChaosEvidence.Of(test, mode, options.Seed, _runs, _survey);

    /// <summary>
    /// Runs the victim under <paramref name="mode"/> until the runs confirm the mode or rule it out (issue 15: a chaos
    /// cause needs <see cref="ChaosEvidence.Confirmations"/> failures under the mode with the same seed, the survey run's
    /// included, and no pass). The runs it rode along in count first; each run made here holds it where it counts, and
    /// every other suspect of the mode still open, to be counted there too: one run shared by all of them for the check,
    /// one more for the confirmation (<see cref="NextChaosRunAsync"/>).
    /// </summary>
    private async Task<ChaosEvidence> ConfirmChaosAsync(string victim, string mode, CancellationToken cancellationToken)
    {
        var evidence = ChaosEvidenceOf(victim, mode);
        for (var made = 0; evidence.Open && made < 2 * ChaosEvidence.Confirmations; made++)
        {
            _progress.Status($"{(evidence.Failed.Count > 1 ? "confirming" : "checking")} {victim} under chaos {mode}");
            await NextChaosRunAsync(victim, mode, evidence.Failed.Count > 1, cancellationToken).ConfigureAwait(false);
            evidence = ChaosEvidenceOf(victim, mode);
        }

        return evidence;
    }

    /// <summary>Which suspects can share a run under <paramref name="mode"/>: the database modes all together (each test under its own, <c>DEFLAKE_CHAOS_TESTS</c>), an environment mode only its own.</summary>
    private static string ChaosGroup(string mode) => EnvironmentChaos.IsEnvironmentMode(mode) ? mode : "databases";

    /// <summary>
    /// One more run of the victim under the mode, one at a time, in which it counts. When it is a suspect planned under
    /// that mode and its group has had fewer than <c>Confirmations − 1</c> runs of its own (the check, the confirmation),
    /// the run also holds every other suspect of the group still open, in the order that lets the most count (the first
    /// as good as alone, each other after tests a survey run cleared for it: <see cref="SharedChaosOrder"/>); otherwise it
    /// runs alone.
    /// </summary>
    private async Task<RunResult> NextChaosRunAsync(string victim, string mode, bool confirming, CancellationToken cancellationToken)
    {
        var group = ChaosGroup(mode);
        var shared = _sharedChaosRuns.GetValueOrDefault(group);
        var others = _suspectModes.TryGetValue(victim, out var planned) && planned == mode && shared < ChaosEvidence.Confirmations - 1
            ? _suspectModes.Where(p => p.Key != victim && ChaosGroup(p.Value) == group && !_diagnosed.Contains(p.Key) && ChaosEvidenceOf(p.Key, p.Value).Open)
                .Select(p => p.Key).ToList()
            : [];
        var prefix = confirming ? "confirm: " : string.Empty;
        if (others.Count == 0)
        {
            if (planned == mode)
            {
                _sharedChaosRuns[group] = shared + 1;
            }

            return await DiagnosticAsync(new RunRequest($"{prefix}alone, chaos {mode}", RunOrderKind.Default, mode, options.Seed, Parallel: false, [victim]), cancellationToken).ConfigureAwait(false);
        }

        _sharedChaosRuns[group] = shared + 1;
        var tests = SharedChaosOrder(victim, others);
        var environment = EnvironmentChaos.IsEnvironmentMode(mode);
        var modes = tests.ToDictionary(t => t, t => _suspectModes[t], StringComparer.Ordinal);
        var common = environment ? mode : modes.Values.GroupBy(m => m, StringComparer.Ordinal).OrderByDescending(g => g.Count())
            .ThenBy(g => options.Modes.ToList().IndexOf(g.Key)).First().Key;
        var request = new RunRequest(environment ? $"{prefix}chaos {mode}, its {tests.Count} suspects one at a time" : $"{prefix}chaos suspects, each under its mode, one at a time",
            RunOrderKind.List, common, options.Seed, Parallel: false, tests)
        {
            TestChaos = environment ? null : modes,
        };
        return await DiagnosticAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The order of a shared chaos run: the one that lets the most suspects count (the first as good as alone, each other
    /// after tests a survey run cleared for it), among those in which the victim counts; the victim first among equals.
    /// Then collection by collection, the first's own first (a list runs a collection's tests together, at its last
    /// listed one), so that the first stays first.
    /// </summary>
    private List<string> SharedChaosOrder(string victim, IReadOnlyList<string> others)
    {
        var best = (First: victim, Chain: ClearedChain([victim], [.. others]));
        foreach (var first in others)
        {
            var chain = ClearedChain([first], [victim, .. others.Where(t => t != first)]);
            if (chain.Contains(victim, StringComparer.Ordinal) && chain.Count > best.Chain.Count)
            {
                best = (first, chain);
            }
        }

        var rest = new[] { victim }.Concat(others).Where(t => t != best.First).ToList();
        var ordered = best.Chain.Concat(rest.Except(best.Chain, StringComparer.Ordinal)).ToList();
        var list = new List<string> { best.First };
        foreach (var collection in ordered.Select(CollectionKey).Prepend(CollectionKey(best.First)).Distinct(StringComparer.Ordinal))
        {
            list.AddRange(ordered.Where(t => CollectionKey(t) == collection));
        }

        return list;
    }

    /// <summary>
    /// The longest sequence of <paramref name="candidates"/> that can run after <paramref name="before"/> and each other,
    /// each cleared by a survey run of every test before it (so its outcome under chaos there is the mode's). A search
    /// over orders of a handful of tests, cut short when all fit.
    /// </summary>
    private List<string> ClearedChain(IReadOnlyList<string> before, List<string> candidates)
    {
        var best = new List<string>();
        var budget = 10_000;
        void Extend(List<string> ran, List<string> chosen)
        {
            if (chosen.Count > best.Count)
            {
                best = [.. chosen];
            }

            foreach (var next in candidates.Where(t => !chosen.Contains(t, StringComparer.Ordinal)).ToArray())
            {
                if (best.Count == candidates.Count || --budget < 0)
                {
                    return;
                }

                if (ChaosEvidence.ClearedBy(next, ran, _survey) is not null)
                {
                    Extend([.. ran, next], [.. chosen, next]);
                }
            }
        }

        Extend([.. before], []);
        return best;
    }

    /// <summary>
    /// The steps of a chaos check: every run after the survey in which the test ran under the mode, what it did there,
    /// and whether it counts; then the tally.
    /// </summary>
    private List<string> ChaosSteps(string test, string mode, ChaosEvidence evidence)
    {
        var steps = new List<string>();
        foreach (var run in _runs.Skip(_survey.Count).Where(r => r.OutcomeOf(test) is not null && r.Request.ChaosOf(test) == mode))
        {
            var before = run.RanBefore(test);
            var where = _rideHosts.TryGetValue(run, out var host) ? $"in {host}" : $"in '{run.Request.Name}'";
            var what = run.Request.Tests is [_] && before.Count == 0
                ? $"{(run.Request.Name.StartsWith("confirm", StringComparison.Ordinal) ? "again alone" : "alone")} under chaos {mode}: {Outcome(run, test)}"
                : $"under chaos {mode}, {where}, {After(run, test)}: {Outcome(run, test)}";
            var counts = run.Request.Seed != options.Seed ? $"; not counted: its seed is {run.Request.Seed}, not the survey's {options.Seed}"
                : before.Count == 0 ? (run.Request.Tests is [_] ? string.Empty : "; as good as alone")
                : ChaosEvidence.ClearedBy(test, before, _survey) is { } clean ? $"; counted, inferred: without chaos '{clean.Request.Name}' saw it pass one at a time after all of them"
                : "; not counted: no survey run clears those";
            steps.Add(what + counts);
        }

        steps.Add($"chaos {mode}: {evidence.Summary} (a cause needs {ChaosEvidence.Confirmations} failures, the survey's included, and no pass){(evidence.Confirmed ? ": confirmed" : evidence.Chance ? ": chance" : evidence.RuledOut ? ": not this mode's case" : string.Empty)}");
        return steps;
    }

    /// <summary>"under DEFLAKE_CHAOS=rows (seed 42)", or the culture or zone with its variables, for evidence.</summary>
    private string Under(string mode) => EnvironmentChaos.IsEnvironmentMode(mode)
        ? $"under {EnvironmentChaos.Label(mode, options.Seed)} ({string.Join(' ', EnvironmentChaos.Variables(mode, options.Seed).Select(v => $"{v.Key}={v.Value}"))}, seed {options.Seed})"
        : $"under DEFLAKE_CHAOS={mode} (seed {options.Seed})";

    /// <summary>
    /// The finding for a confirmed chaos cause. Its <c>reproduce</c> runs the test alone under the mode with the survey's
    /// seed: the command of a run alone this hunt made, or, when the runs that confirmed it were shared, that command
    /// written for it (its steps say so).
    /// </summary>
    private Finding ChaosFinding(string victim, string mode, ChaosEvidence evidence, string? aloneEvidence, List<string> steps)
    {
        var alone = evidence.Failed.FirstOrDefault(r => !r.Request.Parallel && r.Request.Tests is [_] && r.Request.TestChaos is null && r.Request.Order == RunOrderKind.Default);
        if (alone is null)
        {
            steps.Add($"reproduce: runs it alone under chaos {mode} with seed {options.Seed}; this hunt did not run that exact command, the runs above stand for it (a chaos failure repeats for its seed)");
        }

        var first = evidence.Failed.First(r => !r.Request.Parallel);
        var places = evidence.Failed.Select(r => _survey.Contains(r) ? $"the survey's '{r.Request.Name}'" : _rideHosts.TryGetValue(r, out var host) ? host : $"'{r.Request.Name}'").ToArray();
        var message = first.MessageOf(victim);
        return new Finding(victim, FlakeCause.ForChaosMode(mode), null,
            string.Create(CultureInfo.InvariantCulture,
                $"{Capitalize(aloneEvidence ?? "it passes without chaos")}. {Capitalize(Under(mode))} it failed {evidence.Failed.Count} times and never passed: in {places[0]}, then in {string.Join(" and ", places.Skip(1))}, each time first in its process or after tests that without chaos do not break it (its steps name the survey run that shows it). A chaos failure repeats for its seed. Failure: {message}"),
            alone?.Reproduce ?? runner.ReproduceCommand(new RunRequest($"alone, chaos {mode}", RunOrderKind.Default, mode, options.Seed, Parallel: false, [victim])), steps)
        { Message = message };
    }

    /// <summary>
    /// The finding for a chaos suspect the same mode and seed gave both outcomes, one at a time, its own each time: chance
    /// (<see cref="ChaosEvidence.Chance"/>), <c>nondeterministic</c> with its failure rates, and no more runs.
    /// </summary>
    private Finding ChaosChanceFinding(string victim, string mode, ChaosEvidence evidence, Facts facts, List<string> steps, string? message)
    {
        var failed = evidence.Failed.First(r => !r.Request.Parallel);
        var passed = evidence.Passed[0];
        var sentence = $"{Under(mode)} it failed in '{failed.Request.Name}' and passed in '{passed.Request.Name}', one at a time, its outcome its own in both: a failure under chaos repeats for its seed, so that one was chance";
        steps.Add($"chance: {sentence}; no more runs are made for it");
        return new Finding(victim, FlakeCause.Nondeterministic, null,
            string.Create(CultureInfo.InvariantCulture, $"{Capitalize(sentence)}. {evidence.Failed.Count} of its {evidence.Failed.Count + evidence.Passed.Count} runs under chaos {mode} failed; it {OrderEvidence.FailureRate(victim, _runs)}."),
            facts.FailedIn[0].Reproduce, steps)
        { Message = message };
    }

    /// <summary>"after A, B (B itself under chaos rows)" or "with nothing before it", for steps and evidence.</summary>
    private static string After(RunResult run, string test)
    {
        var before = run.RanBefore(test);
        if (before.Count == 0)
        {
            return "with nothing before it";
        }

        var underChaos = before.Where(t => run.Request.ChaosOf(t) != "none").Select(t => $"{t} under chaos {run.Request.ChaosOf(t)}").ToArray();
        var chaos = underChaos.Length == 0 ? string.Empty
            : before.Count == 1 ? $" (under chaos {run.Request.ChaosOf(before[0])})"
            : underChaos.Length == before.Count ? $" (each under its own mode: {string.Join(", ", underChaos)})"
            : $" (without chaos, but {string.Join(", ", underChaos)})";
        return $"after {string.Join(", ", before)}{chaos}";
    }

    /// <summary>The test collection a test ran in, from the survey; null when unknown.</summary>
    private string? CollectionOf(string test) => _survey.Select(r => r.OutcomeOf(test)?.Collection).FirstOrDefault(c => c is not null);

    /// <summary>
    /// The chaos suspects that can ride along after the victim in a one-at-a-time run of <paramref name="tests"/> (victim
    /// last), in the order they will run: neither confirmed nor ruled out yet (a suspect rides again until its mode is
    /// confirmed: each ride is a run under the mode with the survey's seed), of a collection none of those tests is in (a list runs
    /// collections in the order of their last listed test, so they all run after the victim), and each cleared by
    /// the survey of every test that will run before it (so a failure there is its mode's).
    /// </summary>
    private List<string> RidersFor(IReadOnlyList<string> tests, int seed)
    {
        // Only with the survey's seed: under another the mode's changes are others (a row-order victim may fail for
        // some seeds only), so the run would count neither way. No riding once the chaos phase has begun.
        var collections = tests.Select(CollectionOf).ToArray();
        if (seed != options.Seed || _sharedChaosRuns.Count > 0 || collections.Any(c => c is null))
        {
            return [];
        }

        var candidates = _chaosPlan.Where(p => !_diagnosed.Contains(p.Key) && !tests.Contains(p.Key, StringComparer.Ordinal)
            && CollectionOf(p.Key) is { } c && !collections.Contains(c, StringComparer.Ordinal) && ChaosEvidenceOf(p.Key, p.Value).Open).Select(p => p.Key).ToList();
        // The order that lets the most ride along: each must be cleared of the victim, the tests before it, and the
        // suspects before it.
        return ClearedChain(tests, candidates);
    }

    /// <summary>
    /// Runs a one-at-a-time list of tests without chaos, victim last, with the chaos suspects that can ride along
    /// appended after the victim, each under its own mode (<c>DEFLAKE_CHAOS_TESTS</c>; the process's
    /// <c>DEFLAKE_CHAOS</c> stays <c>none</c>). Nothing that runs after the victim can change its result.
    /// </summary>
    /// <remarks>
    /// Order cases waiting for their confirmation may share the run (<see cref="RunWithConfirmationsAsync"/>), the riders
    /// then after them all, when every one still fits there;
    /// <paramref name="brittle"/> says the run searches the victim's state-setter (what clears a test for it);
    /// <paramref name="exact"/> that it replays a run one at a time exactly, so nothing may run before its tests.
    /// </remarks>
    /// <returns>The run, and a step saying which suspects rode along (null: none).</returns>
    private async Task<(RunResult Run, string? Note)> RunCarryingAsync(RunRequest request, string victim, string host, CancellationToken cancellationToken, string where = "in that run", bool carryConfirmations = true, bool brittle = false, bool exact = false)
    {
        Debug.Assert(request.Chaos == "none" && request.TestChaos is null && !request.Parallel && request.Order == RunOrderKind.List);
        var riders = RidersFor(request.Tests ?? [], request.Seed);
        if (carryConfirmations && await RunWithConfirmationsAsync(request, victim, brittle, cancellationToken, exact, riders).ConfigureAwait(false) is { } shared)
        {
            return shared;
        }

        if (riders.Count == 0)
        {
            return (await DiagnosticAsync(request, cancellationToken).ConfigureAwait(false), null);
        }

        var carrying = request with
        {
            Name = $"{request.Name}, chaos suspects after it",
            Tests = [.. request.Tests ?? [], .. riders],
            TestChaos = riders.ToDictionary(t => t, t => _chaosPlan[t], StringComparer.Ordinal),
        };
        var run = await DiagnosticAsync(carrying, cancellationToken).ConfigureAwait(false);
        _rideHosts[run] = host;

        var note = $"{where} the chaos {(riders.Count == 1 ? "suspect" : "suspects")} {string.Join(", ", riders)} ran after it, each under its own mode, to be checked there";
        if (run.RanBefore(victim).Any(riders.Contains))
        {
            // A suspect ran before the victim after all: the run no longer stands for this list. Run it plainly.
            var plain = await DiagnosticAsync(request, cancellationToken).ConfigureAwait(false);
            return (plain, $"{note}; one ran before it instead, so the run was repeated without them");
        }

        return (run, note);
    }
}
