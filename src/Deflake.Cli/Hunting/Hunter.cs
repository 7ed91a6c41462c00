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
/// Every run is a process start, so diagnosis reads the survey first and runs only what it cannot show: no run
/// alone for a test the survey saw pass with nothing changed, one shared run per chaos mode, the smallest list of
/// tests that ran before a victim first, and collision partners ranked by whether they ran at the same time.
/// </summary>
internal sealed class Hunter(ITestRunner runner, HuntOptions options, IHuntProgress? progress = null, TimeProvider? time = null)
{
    private readonly IHuntProgress _progress = progress ?? SilentProgress.Instance;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly List<RunResult> _runs = [];
    private readonly Dictionary<(string Mode, string Test), RunResult> _chaosRuns = [];
    private readonly Dictionary<(string, string), RunResult> _pairRuns = [];
    private readonly Dictionary<(string Before, string Victim), RunResult> _afterRuns = [];
    private readonly Dictionary<string, Finding> _explained = new(StringComparer.Ordinal);
    private Dictionary<string, string> _chaosPlan = new(StringComparer.Ordinal);
    private Dictionary<string, string>? _batchPlan;
    private readonly Dictionary<string, Rider> _riders = new(StringComparer.Ordinal);
    private readonly HashSet<string> _diagnosed = new(StringComparer.Ordinal);
    private IReadOnlyList<RunResult> _survey = [];
    private RunResult? _sequentialDefault;
    private RunResult? _parallelConfirm;

    /// <summary>
    /// Lets the runner start the first run's process now, while the caller gets ready (prints, tidies up): a hunt
    /// starts sooner. Optional; <see cref="HuntAsync"/> works without it.
    /// </summary>
    public void StartAhead() => runner.StartAhead(SurveyPlan()[0].Parallel, options.Seed);

    /// <summary>Hunts; returns every finding with its evidence.</summary>
    public async Task<HuntOutcome> HuntAsync(CancellationToken cancellationToken = default)
    {
        var started = _time.GetUtcNow();
        var stopwatch = Stopwatch.StartNew();
        var plan = SurveyPlan();
        var survey = new List<RunResult>();
        for (var i = 0; i < plan.Count; i++)
        {
            // The survey's next run is known. After the last, a diagnosis run may be of either kind (mostly one at a
            // time; pairs in parallel), and none comes when no test failed: with none failed so far, start none ahead.
            runner.ExpectNext(i + 1 < plan.Count ? (plan[i + 1].Parallel ? RunKinds.Parallel : RunKinds.OneAtATime)
                : survey.Any(r => r.Failed > 0) ? RunKinds.Either : RunKinds.None);
            survey.Add(await SurveyAsync(plan[i], cancellationToken).ConfigureAwait(false));
        }

        var suspects = survey.SelectMany(r => r.Tests.Where(t => !t.Passed).Select(t => t.TestId)).Distinct(StringComparer.Ordinal).ToArray();
        var facts = suspects.ToDictionary(s => s, s => FactsOf(s, survey), StringComparer.Ordinal);

        // The tests to check under a chaos mode, each under the first mode it failed under, so that one process
        // checks them all (DEFLAKE_CHAOS_TESTS gives each its own mode).
        _survey = survey;
        _chaosPlan = suspects.Where(s => !facts[s].FailedInParallelWithoutChaos && facts[s].ChaosModes.Length > 0)
            .ToDictionary(s => s, s => options.Modes.First(m => facts[s].ChaosModes.Contains(m, StringComparer.Ordinal)), StringComparer.Ordinal);

        // Order cases first, so that the chaos suspects can ride along in their runs (after the victim, each under its
        // own mode): those that failed one at a time, then those that failed only in parallel runs but after tests of
        // their own collection (their replay and bisection come first); then the chaos suspects, whose shared check
        // run then holds only those riding along did not settle; collision suspects last: by then the failures
        // explained otherwise are known, which ranks their partners.
        var findings = new List<Finding>();
        var alwaysFailing = new List<string>();
        foreach (var victim in suspects.OrderBy(s => _chaosPlan.ContainsKey(s) ? 2 : !facts[s].ParallelOnly ? 0 : facts[s].OrderPrefixes.Length > 0 ? 1 : 3))
        {
            _progress.Status($"diagnosing {victim}");
            var finding = await DiagnoseAsync(victim, survey, suspects, cancellationToken).ConfigureAwait(false);
            _diagnosed.Add(victim);
            if (finding is null)
            {
                alwaysFailing.Add(victim);
                continue;
            }

            findings.Add(finding);
            _explained[victim] = finding;
            _progress.Found(finding);
        }

        stopwatch.Stop();
        var testCount = survey[0].Discovered ?? survey[0].Tests.Count;
        return new HuntOutcome(options.Seed, options.Project, options.Modes, testCount, _runs.ToArray(), survey.Count, findings, alwaysFailing, started, stopwatch.Elapsed);
    }

    /// <summary>
    /// The survey: baseline, one run per chaos mode (in parallel), reverse and the random orders (one at a time). No
    /// listing process: the baseline runs every test, and its results name them all (skipped ones too).
    /// </summary>
    private List<RunRequest> SurveyPlan()
    {
        var plan = new List<RunRequest> { new("baseline", RunOrderKind.Default, "none", options.Seed, Parallel: true) };
        plan.AddRange(options.Modes.Select(mode => new RunRequest($"chaos {mode}", RunOrderKind.Default, mode, options.Seed, Parallel: true)));
        plan.Add(new RunRequest("reverse", RunOrderKind.Reverse, "none", options.Seed, Parallel: false));
        plan.AddRange(Enumerable.Range(0, options.RandomOrders)
            .Select(k => new RunRequest($"random #{k + 1}", RunOrderKind.Random, "none", unchecked(options.Seed + k), Parallel: false)));
        return plan;
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

    /// <summary>What the survey says about one suspect, before any diagnosis run.</summary>
    private sealed record Facts(string Victim, RunResult[] FailedIn, RunResult[] RanIn)
    {
        public RunResult[] PassedIn { get; } = RanIn.Except(FailedIn).ToArray();

        public bool FailedEverywhere => FailedIn.Length == RanIn.Length;

        /// <summary>It failed in a parallel run without chaos (baseline): chaos cannot be what breaks it.</summary>
        public bool FailedInParallelWithoutChaos => FailedIn.Any(r => r.Request.Chaos == "none" && r.Request.Parallel);

        /// <summary>The chaos modes it failed under.</summary>
        public string[] ChaosModes => FailedIn.Where(r => r.Request.Chaos != "none").Select(r => r.Request.Chaos).Distinct(StringComparer.Ordinal).ToArray();

        /// <summary>It failed under chaos only and passed in every run without chaos (the baseline and every order).</summary>
        public bool ChaosOnly => !FailedEverywhere && FailedIn.All(r => r.Request.Chaos != "none") && RanIn.Any(r => r.Request.Chaos == "none");

        /// <summary>The one-at-a-time runs it failed in.</summary>
        public RunResult[] SequentialFailures => FailedIn.Where(r => !r.Request.Parallel).ToArray();

        /// <summary>The one-at-a-time runs without chaos it passed in.</summary>
        public RunResult[] SequentialPasses => PassedIn.Where(r => !r.Request.Parallel && r.Request.Chaos == "none").ToArray();

        /// <summary>A run without chaos in which it ran first, one at a time, and passed: as good as a run alone.</summary>
        public RunResult? PassedFirst => SequentialPasses.FirstOrDefault(r => r.RanBefore(Victim).Count == 0);

        /// <summary>It failed only in parallel runs (and not after any order one at a time): the collision path.</summary>
        public bool ParallelOnly => SequentialFailures.Length == 0 && FailedIn.Any(r => r.Request.Parallel);

        public string FailedNames => string.Join(", ", FailedIn.Select(r => r.Request.Name));

        /// <summary>
        /// What may have polluted it, smallest first: the tests of its own collection that ran before it in a run it
        /// failed in (they run one at a time even in a parallel run: a class sharing a fixture), and the tests that
        /// ran before it in a one-at-a-time run it failed in. Runs without chaos only.
        /// </summary>
        public Prefix[] OrderPrefixes => FailedIn.Where(r => r.Request.Chaos == "none")
            .Select(r => new Prefix(r, r.RanBeforeInCollection(Victim), "of its collection that ran before it"))
            .Concat(SequentialFailures.Select(r => new Prefix(r, r.RanBefore(Victim), "that ran before it")))
            .Where(p => p.Before.Count > 0)
            .DistinctBy(p => string.Join('\n', p.Before), StringComparer.Ordinal)
            .OrderBy(p => p.Before.Count)
            .ToArray();
    }

    private static Facts FactsOf(string victim, IReadOnlyList<RunResult> survey)
        => new(victim, survey.Where(r => r.FailedTest(victim)).ToArray(), survey.Where(r => r.OutcomeOf(victim) is not null).ToArray());

    private static string Outcome(RunResult run, string test) => run.FailedTest(test) ? "failed" : "passed";

    /// <summary>Null: the test fails every time, alone too (broken, not flaky).</summary>
    private async Task<Finding?> DiagnoseAsync(string victim, IReadOnlyList<RunResult> survey, IReadOnlyList<string> suspects, CancellationToken cancellationToken)
    {
        var facts = FactsOf(victim, survey);
        var failedIn = facts.FailedIn;
        var message = failedIn.Select(r => r.MessageOf(victim)).FirstOrDefault(m => m is not null);
        var failedNames = facts.FailedNames;
        var steps = new List<string> { $"failed in: {failedNames}; passed in: {string.Join(", ", facts.PassedIn.Select(r => r.Request.Name).DefaultIfEmpty("none"))}" };
        var aloneRequest = new RunRequest("alone", RunOrderKind.Default, "none", options.Seed, Parallel: false, [victim]);

        // 1. Alone, nothing changed — unless the survey already shows it passes with nothing changed. Run only when
        //    it failed everywhere (broken?), or before reasoning about order (bisection needs "passes alone").
        bool? passesAlone = null;
        string? aloneEvidence = null;
        if (facts.PassedFirst is { } first)
        {
            passesAlone = true;
            aloneEvidence = $"passed when it ran first in '{first.Request.Name}'";
            steps.Add($"alone: not run; it {aloneEvidence}");
        }
        else if (facts.ChaosOnly)
        {
            aloneEvidence = $"passed with nothing changed in all {facts.PassedIn.Count(r => r.Request.Chaos == "none")} runs without chaos";
            steps.Add($"alone: not run; it {aloneEvidence}");
        }

        async Task<Finding?> AloneAsync()
        {
            var alone = await DiagnosticAsync(aloneRequest, cancellationToken).ConfigureAwait(false);
            passesAlone = !alone.FailedTest(victim);
            if (passesAlone == true)
            {
                steps.Add("alone: passed");
                aloneEvidence = "passes alone";
                return null;
            }

            var again = await DiagnosticAsync(aloneRequest with { Name = "alone again" }, cancellationToken).ConfigureAwait(false);
            steps.Add($"alone: failed; alone again: {Outcome(again, victim)}");
            return new Finding(victim, FlakeCause.Nondeterministic, null,
                $"Failed in {failedNames}; alone with nothing changed it failed, then {(again.FailedTest(victim) ? "failed again" : "passed")}, while it passed in other runs.",
                runner.ReproduceCommand(aloneRequest), steps) { Message = message };
        }

        if (facts.FailedEverywhere)
        {
            var alone = await DiagnosticAsync(aloneRequest, cancellationToken).ConfigureAwait(false);
            if (!alone.FailedTest(victim))
            {
                steps.Add("alone: passed");
                passesAlone = true;
                aloneEvidence = "passes alone";
            }
            else
            {
                var again = await DiagnosticAsync(aloneRequest with { Name = "alone again" }, cancellationToken).ConfigureAwait(false);
                steps.Add($"alone: failed; alone again: {Outcome(again, victim)}");
                if (again.FailedTest(victim))
                {
                    return null;
                }

                return new Finding(victim, FlakeCause.Nondeterministic, null,
                    $"Failed in {failedNames}; alone with nothing changed it failed, then passed.",
                    runner.ReproduceCommand(aloneRequest), steps) { Message = message };
            }
        }
        else if (passesAlone is null && facts.SequentialFailures.Length > 0 && facts.ChaosModes.Length > 0 && !facts.FailedInParallelWithoutChaos
            && await AloneAsync().ConfigureAwait(false) is { } failsAlone)
        {
            // Before blaming chaos, it must pass alone without it. (Order suspects without chaos failures get their
            // run alone from the bisection, and only when a replay makes them fail.)
            return failsAlone;
        }

        // 2. Chaos: fails alone under the mode it failed under (unless it failed the same way without chaos).
        if (!facts.FailedInParallelWithoutChaos)
        {
            foreach (var mode in facts.ChaosModes)
            {
                var (fails, run, how, step) = await ChaosCheckAsync(victim, mode, cancellationToken).ConfigureAwait(false);
                steps.Add(step);
                if (fails)
                {
                    // A shared check run stands for a run alone under the mode (see ChaosCheckAsync): replay that, and
                    // say so when this hunt did not run exactly that command.
                    var reproduce = run.Request.TestChaos is null ? run.Reproduce
                        : runner.ReproduceCommand(new RunRequest($"alone, chaos {mode}", RunOrderKind.Default, mode, options.Seed, Parallel: false, [victim]));
                    if (run.Request.TestChaos is not null)
                    {
                        steps.Add($"reproduce: runs it alone under chaos {mode}; this hunt did not run that exact command, it stands for the run above");
                    }

                    return new Finding(victim, FlakeCause.ForChaosMode(mode), null,
                        $"{Capitalize(aloneEvidence ?? "it passes without chaos")}. {how} Failure: {run.MessageOf(victim)}",
                        reproduce, steps) { Message = run.MessageOf(victim) };
                }
            }
        }

        // 3. Order: replay the tests that ran before it where it failed (its collection's first, then whole
        //    one-at-a-time runs), then bisect.
        if (facts.OrderPrefixes.Length > 0
            && await OrderAsync(victim, facts.OrderPrefixes, passesAlone == true, steps, message, cancellationToken).ConfigureAwait(false) is { } ordered)
        {
            return ordered;
        }

        // 4. Parallel: failed only when collections ran in parallel.
        if (facts.ParallelOnly)
        {
            // 4b. A collision: find the test it collides with.
            var candidates = RankPartners(victim, facts, suspects);
            var concurrent = candidates.Where(c => c.Concurrent > 0).Select(c => c.Test).ToArray();
            if (concurrent.Length == 0 || await FindPartnerAsync(victim, concurrent, steps, cancellationToken).ConfigureAwait(false) is not { } partner)
            {
                // No test that failed alongside it ran at the same time, or none fails with it: first rule out the
                // default order, one at a time (a test-order case that only the default order shows).
                _sequentialDefault ??= await DiagnosticAsync(new RunRequest("default order, one at a time", RunOrderKind.Default, "none", options.Seed, Parallel: false), cancellationToken).ConfigureAwait(false);
                steps.Add($"default order one at a time: {Outcome(_sequentialDefault, victim)}");
                if (_sequentialDefault.FailedTest(victim)
                    && await OrderAsync(victim, [new Prefix(_sequentialDefault, _sequentialDefault.RanBefore(victim), "that ran before it")], passesAlone == true, steps, message, cancellationToken).ConfigureAwait(false) is { } defaultOrder)
                {
                    return defaultOrder;
                }

                partner = candidates.Length == concurrent.Length
                    ? null
                    : await FindPartnerAsync(victim, candidates.Select(c => c.Test).Except(concurrent, StringComparer.Ordinal).ToArray(), steps, cancellationToken).ConfigureAwait(false);
            }

            if (await CollisionAsync(victim, facts, partner, candidates.Select(c => c.Test).ToArray(), steps, message, cancellationToken).ConfigureAwait(false) is { } collision)
            {
                return collision;
            }
        }

        // 5. Nothing explains it: it failed with nothing changed.
        var failedRun = failedIn.FirstOrDefault();
        return new Finding(victim, FlakeCause.Nondeterministic, null,
            $"Failed in {failedNames} but did not fail again in the runs made to explain it (repeated, alone, in order; see steps): it fails with nothing changed.",
            failedRun?.Reproduce ?? runner.ReproduceCommand(aloneRequest), steps) { Message = message };
    }

    private static string Capitalize(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];

    /// <summary>
    /// Whether the victim fails under a chaos mode, as good as alone. Every chaos suspect runs in one process, one at a
    /// time, each with its own database and under its own mode (<c>DEFLAKE_CHAOS_TESTS</c>): the one that runs first
    /// ran as good as alone. One that fails after others counts only when the survey saw it pass without chaos, one
    /// at a time, after every one of them (so they are not what breaks it); otherwise it is run alone under the mode.
    /// One that passes is not that mode's case.
    /// </summary>
    private async Task<(bool Fails, RunResult Run, string How, string Step)> ChaosCheckAsync(string victim, string mode, CancellationToken cancellationToken)
    {
        var under = $"under DEFLAKE_CHAOS={mode} (seed {options.Seed})";
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
    /// <returns>The run, and a step saying which suspects rode along (null: none).</returns>
    private async Task<(RunResult Run, string? Note)> RunCarryingAsync(RunRequest request, string victim, string host, CancellationToken cancellationToken, string where = "in that run")
    {
        Debug.Assert(request.Chaos == "none" && request.TestChaos is null && !request.Parallel && request.Order == RunOrderKind.List);
        var riders = RidersFor(request.Tests ?? []);
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

    /// <summary>Tests that ran one at a time before the victim in <paramref name="Run"/>, where it failed.</summary>
    internal sealed record Prefix(RunResult Run, IReadOnlyList<string> Before, string What)
    {
        public string Describe => Before.Count == 1
            ? $"the test {What} in '{Run.Request.Name}' ({Before[0]})"
            : $"the {Before.Count} tests {What} in '{Run.Request.Name}'";
    }

    /// <summary>Replays the tests that ran before the victim, then it; if it fails, bisects. Null: no replay failed.</summary>
    private async Task<Finding?> OrderAsync(string victim, IEnumerable<Prefix> prefixes, bool knownPassesAlone, List<string> steps, string? message, CancellationToken cancellationToken)
    {
        // The bisection will need a run alone (unless the survey showed it): when chaos suspects can ride along after
        // the victim there, make it first, so that it is their check too (a run that happens anyway).
        if (!knownPassesAlone && RidersFor([victim]).Count > 0)
        {
            var aloneRequest = new RunRequest("bisect: alone", RunOrderKind.List, "none", options.Seed, Parallel: false, [victim]);
            var (alone, note) = await RunCarryingAsync(aloneRequest, victim, $"the bisection's run alone of {victim}", cancellationToken).ConfigureAwait(false);
            steps.Add($"alone (the bisection's run alone, made before the replay so that chaos suspects ride along): {Outcome(alone, victim)}");
            steps.Add(note!);
            if (alone.FailedTest(victim))
            {
                return new Finding(victim, FlakeCause.Nondeterministic, null,
                    $"Failed after {prefixes.First().Describe}, but it fails alone too, while it passed in other runs: it fails with nothing changed.",
                    runner.ReproduceCommand(aloneRequest), steps) { Message = message };
            }

            knownPassesAlone = true;
        }

        // The fewest tests before the victim first: the cheapest bisection.
        foreach (var prefix in prefixes.Where(p => p.Before.Count > 0).OrderBy(p => p.Before.Count).Take(3))
        {
            var replayRequest = new RunRequest($"replay of {prefix.Run.Request.Name}", RunOrderKind.List, "none", options.Seed, Parallel: false, [.. prefix.Before, victim]);
            var (replay, note) = await RunCarryingAsync(replayRequest, victim, $"the replay of '{prefix.Run.Request.Name}' for {victim}", cancellationToken).ConfigureAwait(false);
            steps.Add($"{prefix.Describe}, then it, one at a time: {Outcome(replay, victim)}");
            if (note is not null)
            {
                steps.Add(note);
            }

            if (!replay.FailedTest(victim))
            {
                continue;
            }

            return await BisectAsync(victim, prefix, knownPassesAlone, steps, message, cancellationToken).ConfigureAwait(false);
        }

        return null;
    }

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
            _parallelConfirm ??= await DiagnosticAsync(new RunRequest("parallel again", RunOrderKind.Default, "none", options.Seed, Parallel: true), cancellationToken).ConfigureAwait(false);
            steps.Add($"parallel again: {Outcome(_parallelConfirm, victim)}");
            if (!_parallelConfirm.FailedTest(victim))
            {
                return null;
            }
        }

        var sequentialRuns = facts.SequentialPasses.Append(_sequentialDefault).OfType<RunResult>().Where(r => r.PassedTest(victim)).ToArray();
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

        steps.Add($"one at a time: passed in all {sequentialRuns.Length} runs; with {partner} before it in '{after.Request.Name}': passed");
        var reproduceRun = pair!.FailedTest(victim) ? pair : parallelFailures.FirstOrDefault(r => r.Request.Chaos == "none") ?? parallelFailures[0];
        return new Finding(victim, FlakeCause.ParallelCollision, partner,
            $"Fails when collections run in parallel ({facts.FailedNames}); run in parallel with {partner} alone, {(pair.FailedTest(victim) ? "it fails" : $"{partner} fails")}; passes one at a time, also right after {partner} ('{after.Request.Name}').",
            reproduceRun.Reproduce, steps) { Message = message };
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

    private async Task<Finding> BisectAsync(string victim, Prefix prefix, bool knownPassesAlone, List<string> steps, string? message, CancellationToken cancellationToken)
    {
        var before = prefix.Before;
        _progress.Status($"bisecting {before.Count} tests for the polluter of {victim}");
        // The survey's hint: tests that ran before it, without chaos, in a run where it passed (one at a time, or in
        // its own collection in a parallel run) are unlikely polluters; the bisection runs the others first.
        var cleared = _survey.Where(r => r.Request.Chaos == "none" && r.Request.TestChaos is null && r.PassedTest(victim))
            .SelectMany(r => r.Request.Parallel ? r.RanBeforeInCollection(victim) : r.RanBefore(victim))
            .Where(before.Contains)
            .ToHashSet(StringComparer.Ordinal);
        if (cleared.Count > 0 && cleared.Count < before.Count)
        {
            steps.Add($"bisection tries first the {before.Count - cleared.Count} of the {before.Count} tests no survey run shows it passing after");
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
        })
        {
            Unlikely = cleared,
        };
        var result = await bisector.BisectAsync(before, knownPassesAlone, knownFailsAfterAll: true, cancellationToken).ConfigureAwait(false);
        steps.AddRange(result.Steps);
        steps.AddRange(riderNotes);
        if (result.Verdict == BisectionVerdict.FailsAlone)
        {
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

        var first = result.Polluters[0];
        var polluter = string.Join(" + ", first);
        var reproduce = runner.ReproduceCommand(new RunRequest("reproduce", RunOrderKind.List, "none", options.Seed, Parallel: false, [.. first, victim]));
        var others = result.Polluters.Skip(1).Select(p => string.Join(" + ", p)).ToArray();
        return new Finding(victim, FlakeCause.TestOrder, polluter,
            string.Create(CultureInfo.InvariantCulture,
                $"Passes alone; fails after {prefix.Describe}; {(before.Count == 1 ? "the replay of the two" : $"bisection ({Bisector.RunCount(result.Runs)})")} names {polluter}{(others.Length > 0 ? $", and independently {string.Join(", ", others)}" : string.Empty)}."),
            reproduce, steps)
        { OtherPolluters = others, Message = message };
    }
}
