using System.Diagnostics;
using System.Globalization;
using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>What a hunt runs.</summary>
/// <param name="Seed">The seed of every random choice; random order #k uses <c>Seed + k - 1</c>.</param>
/// <param name="RandomOrders">How many seeded random orders to run.</param>
/// <param name="Modes">The chaos modes to run under, one run each.</param>
/// <param name="Project">The project's name for the report.</param>
internal sealed record HuntOptions(int Seed, int RandomOrders, IReadOnlyList<string> Modes, string Project);

/// <summary>
/// The hunt: a survey of runs (baseline in parallel, one per chaos mode, reverse and seeded random orders one test
/// at a time), then for every test that failed anywhere, the runs that name its cause, and bisection to its polluter.
/// </summary>
internal sealed class Hunter(ITestRunner runner, HuntOptions options, IHuntProgress? progress = null, TimeProvider? time = null)
{
    private readonly IHuntProgress _progress = progress ?? SilentProgress.Instance;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly List<RunResult> _runs = [];
    private RunResult? _sequentialDefault;
    private RunResult? _parallelConfirm;

    /// <summary>Hunts; returns every finding with its evidence.</summary>
    public async Task<HuntOutcome> HuntAsync(CancellationToken cancellationToken = default)
    {
        var started = _time.GetUtcNow();
        var stopwatch = Stopwatch.StartNew();
        _progress.Status("listing tests");
        var tests = await runner.ListTestsAsync(cancellationToken).ConfigureAwait(false);

        var survey = new List<RunResult>
        {
            await SurveyAsync(new RunRequest("baseline", RunOrderKind.Default, "none", options.Seed, Parallel: true), cancellationToken).ConfigureAwait(false),
        };
        foreach (var mode in options.Modes)
        {
            survey.Add(await SurveyAsync(new RunRequest($"chaos {mode}", RunOrderKind.Default, mode, options.Seed, Parallel: true), cancellationToken).ConfigureAwait(false));
        }

        survey.Add(await SurveyAsync(new RunRequest("reverse", RunOrderKind.Reverse, "none", options.Seed, Parallel: false), cancellationToken).ConfigureAwait(false));
        for (var k = 0; k < options.RandomOrders; k++)
        {
            var seed = unchecked(options.Seed + k);
            survey.Add(await SurveyAsync(new RunRequest($"random #{k + 1}", RunOrderKind.Random, "none", seed, Parallel: false), cancellationToken).ConfigureAwait(false));
        }

        var suspects = survey.SelectMany(r => r.Tests.Where(t => !t.Passed).Select(t => t.TestId)).Distinct(StringComparer.Ordinal).ToArray();
        var findings = new List<Finding>();
        var alwaysFailing = new List<string>();
        foreach (var victim in suspects)
        {
            _progress.Status($"diagnosing {victim}");
            var finding = await DiagnoseAsync(victim, survey, suspects, cancellationToken).ConfigureAwait(false);
            if (finding is null)
            {
                alwaysFailing.Add(victim);
                continue;
            }

            findings.Add(finding);
            _progress.Found(finding);
        }

        stopwatch.Stop();
        return new HuntOutcome(options.Seed, options.Project, options.Modes, tests.Count, _runs.ToArray(), survey.Count, findings, alwaysFailing, started, stopwatch.Elapsed);
    }

    private async Task<RunResult> SurveyAsync(RunRequest request, CancellationToken cancellationToken)
    {
        _progress.Status($"run {request.Name}");
        var result = await runner.RunAsync(request, cancellationToken).ConfigureAwait(false);
        _runs.Add(result);
        _progress.RunFinished(result, survey: true);
        return result;
    }

    private async Task<RunResult> DiagnosticAsync(RunRequest request, CancellationToken cancellationToken)
    {
        var result = await runner.RunAsync(request, cancellationToken).ConfigureAwait(false);
        _runs.Add(result);
        _progress.RunFinished(result, survey: false);
        return result;
    }

    /// <summary>Null: the test fails every time, alone too (broken, not flaky).</summary>
    private async Task<Finding?> DiagnoseAsync(string victim, IReadOnlyList<RunResult> survey, IReadOnlyList<string> suspects, CancellationToken cancellationToken)
    {
        var failedIn = survey.Where(r => r.FailedTest(victim)).ToArray();
        var ranIn = survey.Where(r => r.Tests.Any(t => t.TestId == victim)).ToArray();
        var message = failedIn.Select(r => r.MessageOf(victim)).FirstOrDefault(m => m is not null);
        var failedNames = string.Join(", ", failedIn.Select(r => r.Request.Name));
        var steps = new List<string> { $"failed in: {failedNames}; passed in: {string.Join(", ", ranIn.Except(failedIn).Select(r => r.Request.Name).DefaultIfEmpty("none"))}" };

        // 1. Alone, nothing changed.
        var aloneRequest = new RunRequest("alone", RunOrderKind.Default, "none", options.Seed, Parallel: false, [victim]);
        var alone = await DiagnosticAsync(aloneRequest, cancellationToken).ConfigureAwait(false);
        if (alone.FailedTest(victim))
        {
            var again = await DiagnosticAsync(aloneRequest with { Name = "alone again" }, cancellationToken).ConfigureAwait(false);
            steps.Add($"alone: failed; alone again: {(again.FailedTest(victim) ? "failed" : "passed")}");
            if (again.FailedTest(victim) && failedIn.Length == ranIn.Length)
            {
                return null;
            }

            return new Finding(victim, FlakeCause.Nondeterministic, null,
                $"Failed in {failedNames}; alone with nothing changed it failed, then {(again.FailedTest(victim) ? "failed again" : "passed")}, while it passed in other runs.",
                runner.ReproduceCommand(aloneRequest), steps) { Message = message };
        }

        steps.Add("alone: passed");

        // 2. Chaos: fails alone under the mode it failed under (unless it failed the same way without chaos).
        var failedWithoutChaos = failedIn.Any(r => r.Request.Chaos == "none" && r.Request.Parallel);
        foreach (var mode in failedIn.Where(r => r.Request.Chaos != "none" && !failedWithoutChaos).Select(r => r.Request.Chaos).Distinct(StringComparer.Ordinal))
        {
            var request = new RunRequest($"alone, chaos {mode}", RunOrderKind.Default, mode, options.Seed, Parallel: false, [victim]);
            var chaos = await DiagnosticAsync(request, cancellationToken).ConfigureAwait(false);
            steps.Add($"alone under chaos {mode}: {(chaos.FailedTest(victim) ? "failed" : "passed")}");
            if (chaos.FailedTest(victim))
            {
                return new Finding(victim, FlakeCause.ForChaosMode(mode), null,
                    $"Passes alone; fails alone under DEFLAKE_CHAOS={mode} (seed {options.Seed}): {chaos.MessageOf(victim)}",
                    runner.ReproduceCommand(request), steps) { Message = chaos.MessageOf(victim) };
            }
        }

        // 3. Order: it failed in a one-at-a-time run; replay the tests that ran before it, then bisect.
        var sequential = failedIn.Where(r => !r.Request.Parallel).ToList();
        var parallelOnly = sequential.Count == 0 && failedIn.Any(r => r.Request.Parallel);
        if (parallelOnly)
        {
            _sequentialDefault ??= await DiagnosticAsync(new RunRequest("default order, one at a time", RunOrderKind.Default, "none", options.Seed, Parallel: false), cancellationToken).ConfigureAwait(false);
            steps.Add($"default order one at a time: {(_sequentialDefault.FailedTest(victim) ? "failed" : "passed")}");
            if (_sequentialDefault.FailedTest(victim))
            {
                sequential.Add(_sequentialDefault);
            }
        }

        // The run with the fewest tests before the victim first: the cheapest bisection.
        foreach (var run in sequential.OrderBy(r => r.RanBefore(victim).Count).Take(2))
        {
            var before = run.RanBefore(victim);
            if (before.Count == 0)
            {
                continue;
            }

            var replayRequest = new RunRequest($"replay of {run.Request.Name}", RunOrderKind.List, "none", options.Seed, Parallel: false, [.. before, victim]);
            var replay = await DiagnosticAsync(replayRequest, cancellationToken).ConfigureAwait(false);
            steps.Add($"the {before.Count} tests that ran before it in '{run.Request.Name}', then it: {(replay.FailedTest(victim) ? "failed" : "passed")}");
            if (!replay.FailedTest(victim))
            {
                continue;
            }

            return await BisectAsync(victim, before, run, steps, message, cancellationToken).ConfigureAwait(false);
        }

        // 4. Parallel: failed only when collections ran in parallel, and does again.
        if (failedIn.Any(r => r.Request.Parallel) && sequential.Count == 0)
        {
            _parallelConfirm ??= await DiagnosticAsync(new RunRequest("parallel again", RunOrderKind.Default, "none", options.Seed, Parallel: true), cancellationToken).ConfigureAwait(false);
            var sequentialRuns = survey.Where(r => !r.Request.Parallel).Append(_sequentialDefault).OfType<RunResult>().ToArray();
            steps.Add($"parallel again: {(_parallelConfirm.FailedTest(victim) ? "failed" : "passed")}; one at a time: passed in all {sequentialRuns.Length} runs");
            var confirmed = _parallelConfirm.FailedTest(victim) || failedIn.Count(r => r.Request.Parallel) >= 2;
            if (confirmed)
            {
                var partners = failedIn.Where(r => r.Request.Parallel)
                    .SelectMany(r => r.Tests.Where(t => !t.Passed && t.TestId != victim).Select(t => t.TestId))
                    .Where(t => suspects.Contains(t, StringComparer.Ordinal))
                    .Distinct(StringComparer.Ordinal).ToArray();
                var partner = await FindPartnerAsync(victim, partners, steps, cancellationToken).ConfigureAwait(false);
                var partnerText = partner is not null
                    ? $" Run in parallel with {partner} alone, it fails."
                    : partners.Length == 0 ? string.Empty : $" Also failing in the same parallel runs: {string.Join(", ", partners)}.";
                return new Finding(victim, FlakeCause.ParallelCollision, partner,
                    $"Fails when collections run in parallel ({failedNames}{(_parallelConfirm.FailedTest(victim) ? ", parallel again" : string.Empty)}); passes alone and in all {sequentialRuns.Length} one-at-a-time runs.{partnerText}",
                    partner is null ? _parallelConfirm.Reproduce : runner.ReproduceCommand(PairRequest(victim, partner)), steps) { Message = message };
            }
        }

        // 5. Nothing explains it: it failed once with nothing changed.
        var failedRun = failedIn.FirstOrDefault();
        return new Finding(victim, FlakeCause.Nondeterministic, null,
            $"Failed in {failedNames} but did not fail again when that run was repeated, alone, or in order: it fails with nothing changed.",
            failedRun?.Reproduce ?? runner.ReproduceCommand(aloneRequest), steps) { Message = message };
    }

    private readonly Dictionary<(string, string), bool> _pairFails = [];

    private RunRequest PairRequest(string a, string b) => new("pair in parallel", RunOrderKind.Default, "none", options.Seed, Parallel: true, [a, b]);

    /// <summary>The test it collides with: the first of the tests failing alongside it that makes it fail when only the two run, in parallel.</summary>
    private async Task<string?> FindPartnerAsync(string victim, IReadOnlyList<string> candidates, List<string> steps, CancellationToken cancellationToken)
    {
        foreach (var other in candidates.Take(5))
        {
            var key = string.CompareOrdinal(victim, other) < 0 ? (victim, other) : (other, victim);
            if (!_pairFails.TryGetValue(key, out var fails))
            {
                var pair = await DiagnosticAsync(PairRequest(victim, other), cancellationToken).ConfigureAwait(false);
                fails = pair.FailedTest(victim) || pair.FailedTest(other);
                _pairFails[key] = fails;
                if (fails && !pair.FailedTest(victim))
                {
                    // Only the other one failed this time; it still collides with this one.
                    steps.Add($"with {other} in parallel: {other} failed");
                }
            }

            steps.Add($"with {other} in parallel: {(fails ? "failed" : "passed")}");
            if (fails)
            {
                return other;
            }
        }

        return null;
    }

    private async Task<Finding> BisectAsync(string victim, IReadOnlyList<string> before, RunResult pollutedRun, List<string> steps, string? message, CancellationToken cancellationToken)
    {
        _progress.Status($"bisecting {before.Count} tests for the polluter of {victim}");
        var bisector = new Bisector(async (subset, ct) =>
        {
            var request = new RunRequest("bisect", RunOrderKind.List, "none", options.Seed, Parallel: false, [.. subset, victim]);
            var run = await DiagnosticAsync(request, ct).ConfigureAwait(false);
            return run.FailedTest(victim);
        });
        var result = await bisector.BisectAsync(before, knownPassesAlone: true, knownFailsAfterAll: true, cancellationToken).ConfigureAwait(false);
        steps.AddRange(result.Steps);
        if (result.Verdict != BisectionVerdict.Polluted)
        {
            return new Finding(victim, FlakeCause.Nondeterministic, null,
                $"Failed after the tests of '{pollutedRun.Request.Name}', but bisection could not make it fail again ({result.Runs} runs).",
                pollutedRun.Reproduce, steps) { Message = message };
        }

        var first = result.Polluters[0];
        var polluter = string.Join(" + ", first);
        var reproduce = runner.ReproduceCommand(new RunRequest("reproduce", RunOrderKind.List, "none", options.Seed, Parallel: false, [.. first, victim]));
        var others = result.Polluters.Skip(1).Select(p => string.Join(" + ", p)).ToArray();
        return new Finding(victim, FlakeCause.TestOrder, polluter,
            string.Create(CultureInfo.InvariantCulture,
                $"Passes alone; fails after the {before.Count} tests that ran before it in '{pollutedRun.Request.Name}'; bisection ({result.Runs} runs) names {polluter}{(others.Length > 0 ? $", and independently {string.Join(", ", others)}" : string.Empty)}."),
            reproduce, steps)
        { OtherPolluters = others, Message = message };
    }
}
