using System.Diagnostics;
using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>The hunt's chaos checks: alone under a mode, one shared run for all suspects, or riding along after an order victim.</summary>
internal sealed partial class Hunter
{
    /// <summary>
    /// Whether the victim fails under a chaos mode, as good as alone. Every chaos suspect runs in one process, one at a
    /// time, each with its own database and under its own mode (<c>DEFLAKE_CHAOS_TESTS</c>): the one that runs first
    /// ran as good as alone. One that fails after others counts only when the survey saw it pass without chaos, one
    /// at a time, after every one of them (so they are not what breaks it); otherwise it is run alone under the mode.
    /// One that passes is not that mode's case.
    /// </summary>
    private async Task<(bool Fails, RunResult Run, string How, string Step)> ChaosCheckAsync(string victim, string mode, CancellationToken cancellationToken)
    {
        var under = EnvironmentChaos.IsEnvironmentMode(mode)
            ? $"under {EnvironmentChaos.Label(mode, options.Seed)} ({string.Join(' ', EnvironmentChaos.Variables(mode, options.Seed).Select(v => $"{v.Key}={v.Value}"))}, seed {options.Seed})"
            : $"under DEFLAKE_CHAOS={mode} (seed {options.Seed})";
        var aloneRequest = new RunRequest($"alone, chaos {mode}", RunOrderKind.Default, mode, options.Seed, Parallel: false, [victim]);
        var earlier = string.Empty;
        if (_riders.TryGetValue(victim, out var rider) && rider.Mode == mode)
        {
            // It rode along in a run made for an order case: after that victim (and the tests before it), without
            // chaos for them; itself under the mode.
            var before = rider.Run.RanBefore(victim);
            if (!rider.Run.FailedTest(victim))
            {
                return (false, rider.Run, string.Empty, $"under chaos {mode}, in {rider.Host}, {After(rider.Run, victim)}: passed");
            }

            if (CleanSurveyRun(victim, before) is { } clean)
            {
                return (true, rider.Run, $"{Capitalize(under)} it failed in {rider.Host}, {After(rider.Run, victim)}. Without chaos those do not break it: '{clean.Request.Name}' saw it pass after all of them, one at a time.",
                    $"under chaos {mode}, in {rider.Host}, {After(rider.Run, victim)}: failed; not run alone: inferred, since without chaos '{clean.Request.Name}' saw it pass one at a time after all of them");
            }

            earlier = $"under chaos {mode}, in {rider.Host}, {After(rider.Run, victim)}: failed, but no survey run clears those; ";
        }

        var batchPlan = BatchPlan();
        if (batchPlan.Count < 2 || !batchPlan.TryGetValue(victim, out var planned) || planned != mode)
        {
            var alone = await ChaosRunAsync((mode, victim), aloneRequest, cancellationToken).ConfigureAwait(false);
            return (alone.FailedTest(victim), alone, $"Alone {under} it fails.", $"{earlier}alone under chaos {mode}: {Outcome(alone, victim)}");
        }

        var batch = await ChaosRunAsync(("*", string.Empty), SharedChaosRequest(batchPlan), cancellationToken).ConfigureAwait(false);
        var what = $"the one-at-a-time run of the {batchPlan.Count} chaos suspects, each under its own mode";
        if (batch.OutcomeOf(victim) is not null)
        {
            var before = batch.RanBefore(victim);
            if (!batch.FailedTest(victim))
            {
                return (false, batch, string.Empty, $"{earlier}under chaos {mode}, in {what}, {After(batch, victim)}: passed");
            }

            if (before.Count == 0)
            {
                return (true, batch, $"{Capitalize(under)} it failed as the first test of {what}, which is as good as a run alone.",
                    $"{earlier}under chaos {mode}, first in {what}: failed; not run alone: nothing ran before it, as good as alone");
            }

            if (CleanSurveyRun(victim, before) is { } clean)
            {
                return (true, batch, $"{Capitalize(under)} it failed in {what}, {After(batch, victim)}. Without chaos those do not break it: '{clean.Request.Name}' saw it pass after all of them, one at a time.",
                    $"{earlier}under chaos {mode}, in {what}, {After(batch, victim)}: failed; not run alone: inferred, since without chaos '{clean.Request.Name}' saw it pass one at a time after all of them");
            }
        }

        // It failed after other tests of the batch that the survey cannot clear (or did not run): only a run alone can settle it.
        var single = await ChaosRunAsync((mode, victim), aloneRequest, cancellationToken).ConfigureAwait(false);
        return (single.FailedTest(victim), single, $"Alone {under} it fails.",
            $"{earlier}under chaos {mode}, in {what}, {After(batch, victim)}: {Outcome(batch, victim)}; no survey run clears those, so alone under chaos {mode}: {Outcome(single, victim)}");
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

    /// <summary>
    /// A survey run without chaos, one at a time, in which the test passed after every one of <paramref name="before"/>:
    /// they do not break it (without chaos), so a failure after them under chaos is chaos's.
    /// </summary>
    private RunResult? CleanSurveyRun(string test, IReadOnlyList<string> before)
        => _survey.FirstOrDefault(r => !r.Request.Parallel && r.Request.Chaos == "none" && r.Request.TestChaos is null && r.PassedTest(test)
            && before.All(r.RanBefore(test).Contains));

    /// <summary>One run of every chaos suspect, one at a time, each under its own mode; the process default is the commonest mode.</summary>
    private RunRequest SharedChaosRequest(Dictionary<string, string> plan)
    {
        var common = plan.Values.GroupBy(m => m, StringComparer.Ordinal).OrderByDescending(g => g.Count())
            .ThenBy(g => options.Modes.ToList().IndexOf(g.Key)).First().Key;
        return new RunRequest("chaos suspects, each under its mode, one at a time", RunOrderKind.Default, common, options.Seed, Parallel: false, [.. plan.Keys])
        {
            TestChaos = plan,
        };
    }

    /// <summary>
    /// The chaos suspects the shared check run holds: those riding along in an order case's run did not settle (it
    /// passed there, or failed after tests the survey clears). Fixed on first use: nothing rides along after that.
    /// </summary>
    private Dictionary<string, string> BatchPlan()
        => _batchPlan ??= _chaosPlan.Where(p => !(_riders.TryGetValue(p.Key, out var rider) && rider.Mode == p.Value
                && (!rider.Run.FailedTest(p.Key) || CleanSurveyRun(p.Key, rider.Run.RanBefore(p.Key)) is not null)))
            .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    /// <summary>A chaos suspect checked in a run made for an order case, after its victim: <paramref name="Host"/> says which run.</summary>
    private sealed record Rider(RunResult Run, string Mode, string Host);

    /// <summary>The test collection a test ran in, from the survey; null when unknown.</summary>
    private string? CollectionOf(string test) => _survey.Select(r => r.OutcomeOf(test)?.Collection).FirstOrDefault(c => c is not null);

    /// <summary>
    /// The chaos suspects that can ride along after the victim in a one-at-a-time run of <paramref name="tests"/> (victim
    /// last), in the order they will run: not yet checked, of a collection none of those tests is in (a list runs
    /// collections in the order of their last listed test, so they all run after the victim), and each cleared by
    /// the survey of every test that will run before it (so a failure there is its mode's).
    /// </summary>
    private List<string> RidersFor(IReadOnlyList<string> tests)
    {
        if (_batchPlan is not null)
        {
            return [];
        }

        var collections = tests.Select(CollectionOf).ToArray();
        if (collections.Any(c => c is null))
        {
            return [];
        }

        var candidates = _chaosPlan.Keys.Where(t => !_diagnosed.Contains(t) && !_riders.ContainsKey(t) && !tests.Contains(t, StringComparer.Ordinal)
            && CollectionOf(t) is { } c && !collections.Contains(c, StringComparer.Ordinal)).ToList();
        // The order that lets the most ride along: each must be cleared of the victim, the tests before it, and the
        // suspects before it (a handful at most; a search over orders, cut short when all fit).
        var best = new List<string>();
        var budget = 10_000;
        void Extend(List<string> before, List<string> chosen)
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

                if (CleanSurveyRun(next, before) is not null)
                {
                    Extend([.. before, next], [.. chosen, next]);
                }
            }
        }

        Extend([.. tests], []);
        return best;
    }

    /// <summary>
    /// Runs a one-at-a-time list of tests without chaos, victim last, with the chaos suspects that can ride along
    /// appended after the victim, each under its own mode (<c>DEFLAKE_CHAOS_TESTS</c>; the process's
    /// <c>DEFLAKE_CHAOS</c> stays <c>none</c>). Nothing that runs after the victim can change its result.
    /// </summary>
    /// <remarks>
    /// Without riders, order cases waiting for their confirmation may share the run (<see cref="RunWithConfirmationsAsync"/>);
    /// <paramref name="brittle"/> says the run searches the victim's state-setter (what clears a test for it);
    /// <paramref name="exact"/> that it replays a run one at a time exactly, so nothing may run before its tests.
    /// </remarks>
    /// <returns>The run, and a step saying which suspects rode along (null: none).</returns>
    private async Task<(RunResult Run, string? Note)> RunCarryingAsync(RunRequest request, string victim, string host, CancellationToken cancellationToken, string where = "in that run", bool carryConfirmations = true, bool brittle = false, bool exact = false)
    {
        Debug.Assert(request.Chaos == "none" && request.TestChaos is null && !request.Parallel && request.Order == RunOrderKind.List);
        var riders = RidersFor(request.Tests ?? []);
        if (riders.Count == 0 && carryConfirmations && await RunWithConfirmationsAsync(request, victim, brittle, cancellationToken, exact).ConfigureAwait(false) is { } shared)
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
        foreach (var rider in riders.Where(t => run.OutcomeOf(t) is not null))
        {
            _riders[rider] = new Rider(run, _chaosPlan[rider], host);
        }

        var note = $"{where} the chaos {(riders.Count == 1 ? "suspect" : "suspects")} {string.Join(", ", riders)} ran after it, each under its own mode, to be checked there";
        if (run.RanBefore(victim).Any(riders.Contains))
        {
            // A suspect ran before the victim after all: the run no longer stands for this list. Run it plainly.
            var plain = await DiagnosticAsync(request, cancellationToken).ConfigureAwait(false);
            return (plain, $"{note}; one ran before it instead, so the run was repeated without them");
        }

        return (run, note);
    }

    private async Task<RunResult> ChaosRunAsync((string Mode, string Test) key, RunRequest request, CancellationToken cancellationToken)
    {
        if (!_chaosRuns.TryGetValue(key, out var run))
        {
            run = await DiagnosticAsync(request, cancellationToken).ConfigureAwait(false);
            _chaosRuns[key] = run;
        }

        return run;
    }
}
