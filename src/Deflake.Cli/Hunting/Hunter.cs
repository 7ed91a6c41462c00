using System.Diagnostics;
using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>What a hunt runs.</summary>
/// <param name="Seed">The seed of every random choice; random order #k uses <c>Seed + k - 1</c>.</param>
/// <param name="RandomOrders">How many seeded random orders to run.</param>
/// <param name="Modes">The chaos modes to run under, one run each.</param>
/// <param name="Project">The project's name for the report.</param>
internal sealed record HuntOptions(int Seed, int RandomOrders, IReadOnlyList<string> Modes, string Project)
{
    /// <summary>
    /// The seeded random orders a hunt runs unless told otherwise (<c>--runs</c>): 5, so that with the default 2 chaos
    /// modes the survey is 9 runs of the whole suite, and a test that fails at random 30% of the time passes all of them,
    /// and is missed, in 0.7^9 ≈ 4.0% of hunts (with 3 orders, 7 runs: 8.2%). See <see cref="MissProbability"/>.
    /// </summary>
    public const int DefaultRandomOrders = 5;

    /// <summary>The chaos modes a hunt runs under unless told otherwise (<c>--modes</c>).</summary>
    public static IReadOnlyList<string> DefaultModes { get; } = ["identities", "rows"];

    /// <summary>The part of the suite to hunt (<c>--filter</c>); null: every test.</summary>
    public TestFilter? Filter { get; init; }

    /// <summary>Runs of the whole suite in the survey: the baseline, one per chaos mode, reverse and the random orders.</summary>
    public int SurveyRuns => 1 + Modes.Count + 1 + RandomOrders;

    /// <summary>
    /// The chance that a test failing at random with probability <paramref name="failureRate"/> in every run passes all
    /// <see cref="SurveyRuns"/> survey runs, so that the hunt never suspects it: (1 − rate)^runs.
    /// </summary>
    public double MissProbability(double failureRate) => Math.Pow(1 - failureRate, SurveyRuns);
}

/// <summary>
/// The hunt: a survey of runs (baseline in parallel, one per chaos mode, reverse and seeded random orders one test
/// at a time), then for every test that failed anywhere, the runs that name its cause, and bisection to its polluter.
/// Every run is a process start, so diagnosis reads the survey first and runs only what it cannot show: no run
/// alone for a test the survey saw pass with nothing changed, one shared run per chaos mode, the smallest list of
/// tests that ran before a victim first, and collision partners ranked by whether they ran at the same time.
/// </summary>
internal sealed partial class Hunter(ITestRunner runner, HuntOptions options, IHuntProgress? progress = null, TimeProvider? time = null)
{
    private readonly IHuntProgress _progress = progress ?? SilentProgress.Instance;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly List<RunResult> _runs = [];
    private readonly Dictionary<(string, string), RunResult> _pairRuns = [];
    private readonly Dictionary<(string Before, string Victim), RunResult> _afterRuns = [];
    private readonly Dictionary<(string, string), List<RunResult>> _pairConfirmations = [];
    private readonly Dictionary<string, Finding> _explained = new(StringComparer.Ordinal);
    private Dictionary<string, string> _chaosPlan = new(StringComparer.Ordinal);

    /// <summary>Every chaos suspect (the environment modes' too), with the mode it is checked under first: the first it failed under.</summary>
    private Dictionary<string, string> _suspectModes = new(StringComparer.Ordinal);

    /// <summary>The runs made for the chaos suspects of a group (<see cref="ChaosGroup"/>), shared by them.</summary>
    private readonly Dictionary<string, int> _sharedChaosRuns = new(StringComparer.Ordinal);

    /// <summary>The runs made for order cases that chaos suspects rode along in, with the words naming each.</summary>
    private readonly Dictionary<RunResult, string> _rideHosts = [];
    private readonly HashSet<string> _diagnosed = new(StringComparer.Ordinal);
    private List<RunResult> _survey = [];
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
        if (options.Filter is { } filter)
        {
            // Part of the suite: list the tests (with their traits) once, and run only those selected, in every run.
            var listed = await runner.ListTestCasesAsync(cancellationToken).ConfigureAwait(false);
            _selected = [.. listed.Where(filter.Matches).Select(t => t.Id)];
            if (_selected.Length == 0)
            {
                throw CliException.Usage($"--filter '{filter.Text}' selects none of the {listed.Count} tests; check the names (ids are Namespace.Class.Method) or trait values.");
            }
        }

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
        _suspectModes = suspects.Where(s => !facts[s].FailedWithoutChaos && facts[s].ChaosModes.Length > 0)
            .ToDictionary(s => s, s => options.Modes.First(m => facts[s].ChaosModes.Contains(m, StringComparer.Ordinal)), StringComparer.Ordinal);
        // The environment modes (culture, timezone) are the process's, not one test's: their suspects never ride along,
        // and share runs only with suspects of the same mode.
        _chaosPlan = _suspectModes.Where(p => !EnvironmentChaos.IsEnvironmentMode(p.Value)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

        // Order cases first, so that the chaos suspects can ride along in their runs (after the victim, each under its
        // own mode): those that failed one at a time, then those that failed only in parallel runs but after tests of
        // their own collection (their replay and bisection come first); then the chaos suspects, whose shared check
        // run then holds only those riding along did not settle; collision suspects last: by then the failures
        // explained otherwise are known, which ranks their partners.
        var findings = new List<Finding>();
        var alwaysFailing = new List<string>();
        // Within the order cases, those that failed in the most survey runs one at a time first: the likeliest to have
        // several polluters, and so the most confirmation runs, which then ride along in the runs of the cases after them.
        var ordered = suspects.Select(s => (Victim: s, Phase: _chaosPlan.ContainsKey(s) ? 2 : !facts[s].ParallelOnly ? 0 : facts[s].OrderPrefixes.Length > 0 ? 1 : 3))
            .OrderBy(x => x.Phase)
            .ThenByDescending(x => x.Phase <= 1 ? facts[x.Victim].SequentialFailures.Count(r => r.Request.Chaos == "none") : 0)
            .ThenByDescending(x => x.Phase <= 1 ? facts[x.Victim].FailedIn.Length : 0).ToArray();

        // The order cases share their confirmation runs (each parks at its confirmation until all have reached theirs).
        var diagnosed = await DiagnoseSharingConfirmationsAsync([.. ordered.Where(x => x.Phase <= 1).Select(x => x.Victim)], survey, suspects, cancellationToken).ConfigureAwait(false);
        foreach (var (victim, finding) in diagnosed)
        {
            _diagnosed.Add(victim);
            Record(victim, finding);
        }

        foreach (var victim in ordered.Where(x => x.Phase > 1).Select(x => x.Victim))
        {
            _progress.Status($"diagnosing {victim}");
            var finding = await DiagnoseAsync(victim, survey, suspects, cancellationToken).ConfigureAwait(false);
            _diagnosed.Add(victim);
            Record(victim, finding);
        }

        void Record(string victim, Finding? finding)
        {
            if (finding is null)
            {
                alwaysFailing.Add(victim);
                return;
            }

            if (finding.Cause == FlakeCause.Nondeterministic && !finding.Evidence.Contains(" without chaos.", StringComparison.Ordinal))
            {
                // How often it failed, over every run so far: the one number a nondeterministic test can be judged by.
                finding = finding with { Evidence = $"{finding.Evidence} It {OrderEvidence.FailureRate(victim, _runs)}." };
            }

            findings.Add(finding);
            _explained[victim] = finding;
            _progress.Found(finding);
        }

        // Read every finding again over every run: runs made after a test was diagnosed can contradict its cause.
        findings = Reread(findings);
        stopwatch.Stop();
        var testCount = _selected?.Length ?? survey[0].Discovered ?? survey[0].Tests.Count;
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
        return plan.Select(Filtered).ToList();
    }

    /// <summary>The tests <c>--filter</c> selected, in discovery order; null: every test.</summary>
    private string[]? _selected;

    /// <summary>
    /// A run of the whole suite narrowed to the tests <c>--filter</c> selected: a list run of them, in the order the
    /// request asks for (discovery order, reversed, or shuffled with the run's seed), so that only they run and
    /// every order stays replayable from its printed command. Unchanged without a filter.
    /// </summary>
    private RunRequest Filtered(RunRequest request)
    {
        if (_selected is null || request.Tests is not null)
        {
            return request;
        }

        return request.Order switch
        {
            RunOrderKind.Reverse => request with { Order = RunOrderKind.List, Tests = Enumerable.Reverse(_selected).ToArray() },
            RunOrderKind.Random => request with { Order = RunOrderKind.List, Tests = Shuffle(_selected, request.Seed) },
            _ => request with { Tests = _selected },
        };
    }

    /// <summary>A seeded shuffle (Fisher–Yates over <see cref="Random"/> with the seed: the same list for the same seed).</summary>
    private static string[] Shuffle(IReadOnlyList<string> tests, int seed)
    {
        var shuffled = tests.ToArray();
#pragma warning disable CA5394 // Not for security: a replayable order.
        new Random(seed).Shuffle(shuffled);
#pragma warning restore CA5394
        return shuffled;
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

        /// <summary>
        /// It failed in a run without chaos (any order, in parallel or not): chaos is then not what breaks it (a test a
        /// chaos mode breaks passes without it), and a failure under chaos is read as chance (a test failing at random
        /// must not be blamed on a mode), so it is explained by order, collision or chance instead.
        /// </summary>
        public bool FailedWithoutChaos => FailedIn.Any(r => r.Request.Chaos == "none" && r.Request.TestChaos is null);

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
        else if (_runs.FirstOrDefault(r => !r.Request.Parallel && r.PassedTest(victim) && r.Request.ChaosOf(victim) == "none" && r.RanBefore(victim).Count == 0) is { } ranFirst)
        {
            // Run first in a run made for another victim (its run alone, made early).
            passesAlone = true;
            aloneEvidence = $"passed when it ran first in '{ranFirst.Request.Name}'";
            steps.Add($"alone: not run; it {aloneEvidence}");
        }
        else if (facts.ChaosOnly)
        {
            aloneEvidence = $"passed with nothing changed in all {facts.PassedIn.Count(r => r.Request.Chaos == "none")} runs without chaos";
            steps.Add($"alone: not run; it {aloneEvidence}");
        }

        // A run of it alone; order cases waiting for their confirmation may run after it in the same process.
        async Task<RunResult> RunAloneAsync(RunRequest request)
            => await RunWithConfirmationsAsync(request with { Order = RunOrderKind.List }, victim, brittle: false, cancellationToken).ConfigureAwait(false) is { } shared
                ? shared.Run
                : await DiagnosticAsync(request, cancellationToken).ConfigureAwait(false);

        async Task<Finding?> AloneAsync()
        {
            var alone = await RunAloneAsync(aloneRequest).ConfigureAwait(false);
            passesAlone = !alone.FailedTest(victim);
            if (passesAlone == true)
            {
                steps.Add("alone: passed");
                aloneEvidence = "passes alone";
                return null;
            }

            var again = await RunAloneAsync(aloneRequest with { Name = "alone again" }).ConfigureAwait(false);
            steps.Add($"alone: failed; alone again: {Outcome(again, victim)}");
            if (await StateSetterAsync(victim, steps, message, cancellationToken).ConfigureAwait(false) is { } brittle)
            {
                return brittle;
            }

            return new Finding(victim, FlakeCause.Nondeterministic, null,
                $"Failed in {failedNames}; alone with nothing changed it failed, then {(again.FailedTest(victim) ? "failed again" : "passed")}, while it passed in other runs.",
                runner.ReproduceCommand(aloneRequest), steps) { Message = message };
        }

        if (facts.FailedEverywhere)
        {
            var alone = await RunAloneAsync(aloneRequest).ConfigureAwait(false);
            if (!alone.FailedTest(victim))
            {
                steps.Add("alone: passed");
                passesAlone = true;
                aloneEvidence = "passes alone";
            }
            else
            {
                var again = await RunAloneAsync(aloneRequest with { Name = "alone again" }).ConfigureAwait(false);
                steps.Add($"alone: failed; alone again: {Outcome(again, victim)}");
                if (again.FailedTest(victim))
                {
                    // Broken, unless some run saw it pass after other tests: then it may be brittle.
                    return await StateSetterAsync(victim, steps, message, cancellationToken).ConfigureAwait(false);
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

        // 2. Chaos: fails under the mode it failed under, 3 times with the survey's seed, never passing there (unless it
        //    failed without chaos too: then chaos is not what breaks it, and its failures under chaos may be chance).
        if (!facts.FailedWithoutChaos && !_runs.Any(r => r.Request.ChaosOf(victim) == "none" && r.FailedTest(victim)))
        {
            foreach (var mode in facts.ChaosModes)
            {
                var evidence = await ConfirmChaosAsync(victim, mode, cancellationToken).ConfigureAwait(false);
                steps.AddRange(ChaosSteps(victim, mode, evidence));
                if (evidence.Confirmed)
                {
                    return ChaosFinding(victim, mode, evidence, aloneEvidence, steps);
                }

                if (evidence.Chance)
                {
                    return ChaosChanceFinding(victim, mode, evidence, facts, steps, message);
                }

                if (evidence.FailedWithoutChaos is not null)
                {
                    break;
                }
            }
        }

        // 3. Order — unless it already failed alone (first in its process, one at a time, without chaos; e.g. in a run made
        //    for another victim): a polluter is named only for a victim that passes alone, and such a run contradicts every
        //    polluter, so no replay or bisection could name one. It is brittle (a state-setter makes it pass) or chance.
        if (facts.OrderPrefixes.Length > 0
            && _runs.FirstOrDefault(r => !r.Request.Parallel && r.FailedTest(victim) && r.Request.ChaosOf(victim) == "none" && r.RanBefore(victim).Count == 0) is { } failedFirst)
        {
            steps.Add($"order: no replay; it failed when it ran first in '{failedFirst.Request.Name}', which contradicts any polluter (a polluted test passes alone)");
            if (await StateSetterAsync(victim, steps, message, cancellationToken).ConfigureAwait(false) is { } setterCase)
            {
                return setterCase;
            }

            return new Finding(victim, FlakeCause.Nondeterministic, null,
                $"Failed in {failedNames}; it failed alone too (first in '{failedFirst.Request.Name}'), while it passed in other runs: it fails with nothing changed.",
                runner.ReproduceCommand(aloneRequest), steps) { Message = message };
        }

        // 3. Order: replay the tests that ran before it where it failed (its collection's first, then whole
        //    one-at-a-time runs), then bisect.
        if (facts.OrderPrefixes.Length > 0
            && await OrderAsync(victim, facts.OrderPrefixes, passesAlone == true, steps, message, cancellationToken).ConfigureAwait(false) is { } ordered)
        {
            return ordered;
        }

        // 4. Parallel: failed only when collections ran in parallel — unless the suite's parallel runs already rule a
        //    collision out: it predicts a failure whenever the suite runs in parallel, and a collision is named only when
        //    it failed in more than half of them (CollisionAsync), which even one more failing run could not reach.
        var suiteParallel = _runs.Where(r => r.Request.Parallel && r.OutcomeOf(victim) is not null && (r.Request.Tests?.Count ?? int.MaxValue) > 2).ToArray();
        var suiteParallelFailed = suiteParallel.Count(r => r.FailedTest(victim));
        if (facts.ParallelOnly && (suiteParallelFailed + 1) * 2 <= suiteParallel.Length + 1)
        {
            steps.Add($"no collision: it failed in {suiteParallelFailed} of the suite's {suiteParallel.Length} parallel runs (a collision fails in most of them), so no pair is run");
        }
        else if (facts.ParallelOnly)
        {
            // 4b. A collision: find the test it collides with.
            var candidates = RankPartners(victim, facts, suspects);
            var concurrent = candidates.Where(c => c.Concurrent > 0).Select(c => c.Test).ToArray();
            if (concurrent.Length == 0 || await FindPartnerAsync(victim, concurrent, steps, cancellationToken).ConfigureAwait(false) is not { } partner)
            {
                // No test that failed alongside it ran at the same time, or none fails with it: first rule out the
                // default order, one at a time (a test-order case that only the default order shows).
                _sequentialDefault ??= await DiagnosticAsync(Filtered(new RunRequest("default order, one at a time", RunOrderKind.Default, "none", options.Seed, Parallel: false)), cancellationToken).ConfigureAwait(false);
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

        // 5. Nothing explains it: it failed with nothing changed — unless it failed as good as alone (first, one at a
        //    time, no chaos) and passed after other tests: brittle, passing only after a state-setter.
        if (_runs.Any(r => !r.Request.Parallel && r.FailedTest(victim) && r.Request.ChaosOf(victim) == "none" && r.RanBefore(victim).Count == 0)
            && await StateSetterAsync(victim, steps, message, cancellationToken).ConfigureAwait(false) is { } brittleCase)
        {
            return brittleCase;
        }

        // 5. Nothing explains it: it failed with nothing changed.
        var failedRun = failedIn.FirstOrDefault();
        return new Finding(victim, FlakeCause.Nondeterministic, null,
            $"Failed in {failedNames} but did not fail again in the runs made to explain it (repeated, alone, in order; see steps): it fails with nothing changed.",
            failedRun?.Reproduce ?? runner.ReproduceCommand(aloneRequest), steps) { Message = message };
    }

    private static string Capitalize(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
