using System.Globalization;
using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>
/// Confirmation shared between victims (issue 15, item 6). The order cases (polluted and brittle) are diagnosed one
/// after the other as before, but when one reaches its confirmation it waits (is parked) while the next is diagnosed.
/// When every order case has reached its confirmation or its finding, the confirmations of all of them are made
/// together: each run holds one group per victim (the victim alone, which must run first in its process, or its
/// polluter or state-setter then it), and a victim's group follows other groups only when every test in them is
/// cleared for it (a run saw it show its usual outcome after that test: <see cref="OrderEvidence.Cleared"/>), so its
/// outcome is its own. The rules of <see cref="OrderEvidence"/> read every run as before: "alone" is still first in its
/// process, a failure after the polluter counts only in runs made after it was named and only with nothing uncleared
/// before it, and a pass right after the polluter contradicts it.
/// </summary>
internal sealed partial class Hunter
{
    /// <summary>The order cases waiting for their confirmation runs; null outside the order phase.</summary>
    private ConfirmationPool? _pool;

    /// <summary>One victim's hypotheses awaiting confirmation: its polluters (or state-setters), each to be confirmed.</summary>
    private sealed class ConfirmationCase(string victim, IReadOnlyList<IReadOnlyList<string>> suspects, bool brittle, int from, int order)
    {
        public string Victim => victim;

        /// <summary>The polluters (or state-setters) found, the first the one the finding names first.</summary>
        public IReadOnlyList<IReadOnlyList<string>> Suspects => suspects;

        public bool Brittle => brittle;

        /// <summary>The index of the first run made after the suspects were named: from there on runs confirm them.</summary>
        public int From => from;

        /// <summary>When it was parked, for a stable order.</summary>
        public int Order => order;

        /// <summary>The runs made for it: which suspect the run stood for (-1: alone), and how many victims shared it.</summary>
        public List<(RunResult Run, int Suspect, int Victims)> Runs { get; } = [];

        public TaskCompletionSource Resume { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Waiting { get; set; }

        /// <summary>
        /// Not a confirmation: the victim's search for more polluters, waiting until the other order cases have been
        /// diagnosed; meanwhile the victim runs last in their runs where it fits (an observer), and no run is made for it.
        /// </summary>
        public bool Deferred { get; init; }

        /// <summary>
        /// Per suspect, the index of the first run made after it was named, when they differ (a search that waited had
        /// named the first before it waited); null: <see cref="From"/> for every suspect.
        /// </summary>
        public int[]? Froms { get; init; }

        /// <summary>The index of the first run made after suspect <paramref name="suspect"/> was named.</summary>
        public int FromOf(int suspect) => Froms?[suspect] ?? from;
    }

    /// <summary>The parked order cases, and the signal that one was parked.</summary>
    private sealed class ConfirmationPool
    {
        private TaskCompletionSource _parked = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<ConfirmationCase> Cases { get; } = [];

        /// <summary>Completes when a case is parked (since the last <see cref="Rearm"/>).</summary>
        public Task Parked => _parked.Task;

        public void Rearm() => _parked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task ParkAsync(ConfirmationCase confirmation)
        {
            Cases.Add(confirmation);
            confirmation.Waiting = true;
            _parked.TrySetResult();
            return confirmation.Resume.Task;
        }

        public ConfirmationCase? Find(string victim, IReadOnlyList<string> suspect, bool brittle)
            => Cases.LastOrDefault(c => !c.Deferred && c.Victim == victim && c.Brittle == brittle && c.Suspects.Any(s => s.SequenceEqual(suspect, StringComparer.Ordinal)));
    }

    /// <summary>
    /// Runs <paramref name="diagnosis"/> until it finishes or parks at its confirmation (its task is then still running).
    /// </summary>
    private static async Task UntilParkedOrDoneAsync(ConfirmationPool pool, Task diagnosis)
    {
        await Task.WhenAny(diagnosis, pool.Parked).ConfigureAwait(false);
        if (diagnosis.IsCompleted)
        {
            await diagnosis.ConfigureAwait(false); // its exception, if any
        }
    }

    /// <summary>
    /// Diagnoses the order cases with their confirmations shared: each is diagnosed until it finishes or parks; then the
    /// confirmation runs of every parked case are made together and the cases resumed, until none is left.
    /// </summary>
    private async Task<List<(string Victim, Finding? Finding)>> DiagnoseSharingConfirmationsAsync(IReadOnlyList<string> victims, IReadOnlyList<RunResult> survey, IReadOnlyList<string> suspects, CancellationToken cancellationToken)
    {
        var pool = new ConfirmationPool();
        _pool = pool;
        var tasks = new List<(string Victim, Task<Finding?> Task)>();

        // A waiting case goes on, and is diagnosed until it parks again or finishes.
        async Task ResumeAsync(ConfirmationCase waiting)
        {
            waiting.Waiting = false;
            pool.Rearm();
            waiting.Resume.SetResult();
            await UntilParkedOrDoneAsync(pool, tasks.Single(t => t.Victim == waiting.Victim).Task).ConfigureAwait(false);
        }

        try
        {
            foreach (var victim in victims)
            {
                _orderCases[victim] = null;
            }

            foreach (var victim in victims)
            {
                _progress.Status($"diagnosing {victim}");
                pool.Rearm();
                var task = DiagnoseAsync(victim, survey, suspects, cancellationToken);
                _orderCases[victim] = task;
                tasks.Add((victim, task));
                await UntilParkedOrDoneAsync(pool, task).ConfigureAwait(false);

                // A search for more polluters that waited goes on as soon as the runs single out at most 2 tests (its
                // next run is then likely its last), so that its confirmation can share the runs of the cases after it.
                while (pool.Cases.FirstOrDefault(c => c.Waiting && c.Deferred && SearchReady(c)) is { } ready)
                {
                    await ResumeAsync(ready).ConfigureAwait(false);
                }
            }

            while (pool.Cases.Any(c => c.Waiting))
            {
                // Searches for more polluters that waited for the other cases go on first: their runs can then hold the
                // confirmation groups of the cases waiting.
                if (pool.Cases.FirstOrDefault(c => c.Waiting && c.Deferred) is { } deferred)
                {
                    await ResumeAsync(deferred).ConfigureAwait(false);
                    continue;
                }

                var waiting = pool.Cases.Where(c => c.Waiting).ToArray();
                await ConfirmTogetherAsync(waiting, cancellationToken).ConfigureAwait(false);
                foreach (var confirmation in waiting)
                {
                    await ResumeAsync(confirmation).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _pool = null;
        }

        var findings = new List<(string, Finding?)>();
        foreach (var (victim, task) in tasks)
        {
            findings.Add((victim, await task.ConfigureAwait(false)));
        }

        return findings;
    }

    /// <summary>
    /// The evidence for one suspect of a case, over every run so far. For a search that waits, failures with none of its
    /// polluters found before it are left to the search (a polluter not found yet may explain them: the empty set stands
    /// for it), so that the runs it still needs for the polluters found are made meanwhile.
    /// </summary>
    private OrderEvidence EvidenceOf(ConfirmationCase confirmation, int suspect)
        => OrderEvidence.Of(confirmation.Victim, confirmation.Suspects[suspect], _runs,
            confirmation.Deferred ? [.. confirmation.Suspects.Where((_, j) => j != suspect), []] : confirmation.Suspects.Where((_, j) => j != suspect),
            confirmation.FromOf(suspect), confirmation.Brittle);

    /// <summary>The most confirmation runs one case is given, whatever happens (each run settles at least one observation).</summary>
    private static int MaxConfirmationRuns(ConfirmationCase confirmation) => 2 * OrderEvidence.Confirmations * (confirmation.Suspects.Count + 1);

    /// <summary>What a case still needs: runs alone, and runs after each suspect (0 for one confirmed or ruled out); null when settled.</summary>
    private (int Alone, int[] After)? NeedsOf(ConfirmationCase confirmation)
    {
        const int k = OrderEvidence.Confirmations;
        var evidence = Enumerable.Range(0, confirmation.Suspects.Count).Select(i => EvidenceOf(confirmation, i)).ToArray();
        if (evidence[0].Contradiction is not null || confirmation.Runs.Count >= MaxConfirmationRuns(confirmation))
        {
            return null; // the first is ruled out: nothing will be named
        }

        var after = evidence.Select(e => e.Contradiction is null ? Math.Max(0, k - e.FailedAfter) : 0).ToArray();
        var open = evidence.Any(e => e.Contradiction is null && !e.Confirmed);
        return open ? (Math.Max(0, k - evidence[0].PassedAlone), after) : null;
    }

    /// <summary>A test's collection (from the survey), or its class: what xUnit keeps together in a list run.</summary>
    private string CollectionKey(string test) => CollectionOf(test) ?? (test.LastIndexOf('.') is > 0 and var dot ? test[..dot] : test);

    /// <summary>
    /// Makes the confirmation runs of <paramref name="cases"/> together until each is confirmed or ruled out: one group
    /// per victim a run, the one that most needs a run alone first (alone), the others after it, each its suspect then
    /// it, when their tests and collections are apart and every test before it is cleared for it.
    /// </summary>
    private async Task ConfirmTogetherAsync(IReadOnlyList<ConfirmationCase> cases, CancellationToken cancellationToken)
    {
        _progress.Status($"confirming {cases.Count} order case{(cases.Count == 1 ? string.Empty : "s")}{(cases.Count > 1 ? ", sharing runs" : string.Empty)}");
        while (true)
        {
            var open = cases.Select(c => (Case: c, Needs: NeedsOf(c))).Where(x => x.Needs is not null)
                .Select(x => (x.Case, Needs: x.Needs!.Value))
                .OrderByDescending(x => x.Needs.Alone + x.Needs.After.Sum()).ThenBy(x => x.Case.Order)
                .ToArray();
            if (open.Length == 0)
            {
                return;
            }

            // Which case runs alone (first): of those that need it, the one after which the most other groups fit
            // (a group fits only after tests cleared for its victim), the neediest first among equals.
            Packing Pack(ConfirmationCase? alone)
            {
                var packing = new Packing(this, []);
                if (alone is not null)
                {
                    packing.Add(alone, -1, [alone.Victim]);
                }

                foreach (var (confirmation, needs) in open.Where(x => x.Case != alone))
                {
                    packing.TryAddAfter(confirmation, needs);
                }

                return packing;
            }

            var packing = open.Where(x => x.Needs.Alone > 0).Select(x => Pack(x.Case)).DefaultIfEmpty(Pack(null))
                .Select((p, i) => (Packing: p, Index: i)).OrderByDescending(x => x.Packing.Groups.Count).ThenBy(x => x.Index).First().Packing;

            var groups = packing.Groups;
            var name = groups.Count > 1 ? string.Create(CultureInfo.InvariantCulture, $"confirm: {groups.Count} victims")
                : groups[0].Suspect < 0 ? "confirm: alone"
                : groups[0].Case.Brittle ? "confirm: after the state-setter" : "confirm: after the polluter";
            var request = new RunRequest(name, RunOrderKind.List, "none", options.Seed, Parallel: false, [.. groups.SelectMany(g => g.Tests)]);
            var (run, _) = await RunCarryingAsync(request, groups[^1].Case.Victim,
                $"a confirmation run for {string.Join(", ", groups.Select(g => g.Case.Victim))}", cancellationToken, carryConfirmations: false).ConfigureAwait(false);
            foreach (var (confirmation, suspect, _) in groups)
            {
                confirmation.Runs.Add((run, suspect, groups.Count));
            }
        }
    }

    /// <summary>
    /// In the order phase: parks the victim until the confirmations of every order case are made together (the first
    /// time), then reads the evidence for <paramref name="polluters"/>' first from every run, with the steps of the
    /// runs that stood for it.
    /// </summary>
    private async Task<OrderEvidence> ConfirmSharedAsync(ConfirmationPool pool, string victim, IReadOnlyList<IReadOnlyList<string>> polluters, List<string> steps, bool brittle)
    {
        var confirmation = pool.Find(victim, polluters[0], brittle);
        if (confirmation is null)
        {
            // The polluters a search that waited had found were named before it waited: the runs made for them since count.
            var waited = brittle ? null : pool.Cases.LastOrDefault(c => c.Deferred && c.Victim == victim);
            int[] froms = [.. polluters.Select(p => waited is not null && waited.Suspects.Any(s => s.SequenceEqual(p, StringComparer.Ordinal)) ? waited.From : _runs.Count)];
            confirmation = new ConfirmationCase(victim, polluters, brittle, _runs.Count, pool.Cases.Count) { Froms = froms };
            if (waited is not null)
            {
                // Its suspects are the first of these, in the same order: the runs made for them stand as they are.
                confirmation.Runs.AddRange(waited.Runs);
            }

            await pool.ParkAsync(confirmation).ConfigureAwait(false);
        }

        var suspect = Enumerable.Range(0, confirmation.Suspects.Count).First(i => confirmation.Suspects[i].SequenceEqual(polluters[0], StringComparer.Ordinal));
        var (aloneWord, afterWord) = brittle ? ("failed", "passed") : ("passed", "failed");
        var made = 0;
        foreach (var (run, stood, victims) in confirmation.Runs.Where(r => r.Suspect == -1 || r.Suspect == suspect))
        {
            made++;
            steps.Add($"confirm, {(stood < 0 ? "alone" : $"after {string.Join(" + ", polluters[0])}")}: {Outcome(run, victim)}"
                + (victims > 1 ? string.Create(CultureInfo.InvariantCulture, $" (in '{run.Request.Name}', shared by {victims} victims; the tests before its group are cleared for it)") : string.Empty));
        }

        var evidence = OrderEvidence.Of(victim, polluters[0], _runs, polluters.Skip(1), confirmation.FromOf(suspect), brittle);
        steps.Add(string.Create(CultureInfo.InvariantCulture,
            $"confirmation ({Bisector.RunCount(made)} made for it): {aloneWord} alone {evidence.PassedAlone}, {afterWord} after {string.Join(" + ", polluters[0])} {evidence.FailedAfter} times (needs {OrderEvidence.Confirmations} each){(evidence.Contradiction is { } c ? $"; contradicted by '{c.Request.Name}'" : string.Empty)}"));
        return evidence;
    }

    /// <summary>
    /// Groups of one run, one per victim, in order: a group joins only when its tests and their collections are apart
    /// from those already in the run (xUnit runs a collection's listed tests together, at its last listed test), and
    /// every test already in the run is cleared for its victim, so that the victim's outcome is its own.
    /// </summary>
    private sealed class Packing(Hunter hunter, IReadOnlyList<string> before)
    {
        private readonly List<string> _used = [.. before];
        private readonly HashSet<string> _collections = before.Select(hunter.CollectionKey).ToHashSet(StringComparer.Ordinal);

        public List<(ConfirmationCase Case, int Suspect, string[] Tests)> Groups { get; } = [];

        public void Add(ConfirmationCase confirmation, int suspect, string[] tests)
        {
            Groups.Add((confirmation, suspect, tests));
            _used.AddRange(tests);
            _collections.UnionWith(tests.Select(hunter.CollectionKey));
        }

        /// <summary>Adds the case's group for the suspect that most needs a run after it, when it fits.</summary>
        public bool TryAddAfter(ConfirmationCase confirmation, (int Alone, int[] After) needs)
        {
            var best = needs.After.Select((n, i) => (Need: n, Index: i)).Where(x => x.Need > 0).OrderByDescending(x => x.Need).ThenBy(x => x.Index).ToArray();
            if (best.Length == 0)
            {
                return false; // it needs runs alone only: it must run first in its process
            }

            string[] tests = [.. confirmation.Suspects[best[0].Index], confirmation.Victim];
            if (tests.Any(_used.Contains) || tests.Select(hunter.CollectionKey).Any(_collections.Contains)
                || (_used.Count > 0 && !_used.All(OrderEvidence.Cleared(confirmation.Victim, hunter._runs, confirmation.Brittle).Contains)))
            {
                return false;
            }

            Add(confirmation, best[0].Index, tests);
            return true;
        }
    }

    /// <summary>
    /// The confirmation groups of parked order cases that can run after the tests of a run made for another victim
    /// (after it nothing changes that victim's result): each a suspect then its victim, when it fits (<see cref="Packing"/>).
    /// </summary>
    private List<(ConfirmationCase Case, int Suspect, string[] Tests)> ConfirmationsAfter(IReadOnlyList<string> tests)
    {
        if (_pool is not { } pool)
        {
            return [];
        }

        var packing = new Packing(this, tests);
        foreach (var confirmation in pool.Cases.Where(c => c.Waiting).OrderBy(c => c.Order))
        {
            if (NeedsOf(confirmation) is { } needs)
            {
                packing.TryAddAfter(confirmation, needs);
            }
        }

        return packing.Groups;
    }

    /// <summary>
    /// The victims whose search for more polluters waits (<see cref="ConfirmationCase.Deferred"/>) that can run last in a
    /// run of <paramref name="tests"/>: not in it, in a collection apart from all of them (so it runs after them all),
    /// and none of their polluters found in it (its outcome then says whether another one is among the tests before it:
    /// a pass clears them, a failure singles them out, as a survey run would).
    /// </summary>
    private List<string> Observers(IReadOnlyList<string> tests)
    {
        var observers = new List<string>();
        if (_pool is not { } pool)
        {
            return observers;
        }

        var collections = tests.Select(CollectionKey).ToHashSet(StringComparer.Ordinal);
        foreach (var search in pool.Cases.Where(c => c.Waiting && c.Deferred).OrderBy(c => c.Order))
        {
            if (!tests.Contains(search.Victim, StringComparer.Ordinal) && !observers.Contains(search.Victim, StringComparer.Ordinal)
                && !collections.Contains(CollectionKey(search.Victim)) && !search.Suspects.Any(s => s.Any(tests.Contains))
                && Unsettled(search).Overlaps(tests))
            {
                observers.Add(search.Victim);
                collections.Add(CollectionKey(search.Victim));
            }
        }

        return observers;
    }

    /// <summary>
    /// Whether a waiting search for more polluters has what it needs: the runs one at a time in which the victim failed
    /// with none of its polluters found before it single out at most 2 tests no run cleared (or none: then it replays).
    /// </summary>
    private bool SearchReady(ConfirmationCase search)
        => UnexplainedFailures(search.Victim, search.Suspects).Length == 0 || Unsettled(search).Count <= 2;

    /// <summary>
    /// The tests a waiting search still suspects: those every run one at a time in which the victim failed with none of
    /// its polluters found before it had before it, that no run cleared.
    /// </summary>
    private HashSet<string> Unsettled(ConfirmationCase search)
    {
        var candidates = UnexplainedFailures(search.Victim, search.Suspects).SelectMany(p => p.Before).Distinct(StringComparer.Ordinal).ToArray();
        return SingledOut(search.Victim, candidates, search.Suspects, brittle: false);
    }

    /// <summary>
    /// In the order phase, while another order case is yet to be diagnosed: parks the victim's search for more polluters
    /// until the order cases have been diagnosed, the victim running last in their runs meanwhile (<see cref="Observers"/>).
    /// </summary>
    private async Task<bool> DeferSearchAsync(string victim, IReadOnlyList<IReadOnlyList<string>> found)
    {
        if (_pool is not { } pool || !_orderCases.Any(c => c.Key != victim && c.Value is null))
        {
            return false;
        }

        var search = new ConfirmationCase(victim, [.. found], brittle: false, _runs.Count, pool.Cases.Count) { Deferred = true };
        if (SearchReady(search))
        {
            return false; // the runs so far already single out what to run
        }

        await pool.ParkAsync(search).ConfigureAwait(false);
        return true;
    }

    /// <summary>The order cases of this hunt, in the order they are diagnosed, with their diagnoses once started.</summary>
    private readonly Dictionary<string, Task<Finding?>?> _orderCases = new(StringComparer.Ordinal);

    /// <summary>The runs in which <paramref name="test"/> ran first in its process, one at a time, without chaos: runs alone.</summary>
    private int RunsFirst(string test)
        => _runs.Count(r => !r.Request.Parallel && r.OutcomeOf(test) is not null && r.Request.ChaosOf(test) == "none" && r.RanBefore(test).Count == 0);

    /// <summary>
    /// An order case to run first (alone) in a run made for <paramref name="victim"/>: one whose diagnosis has not
    /// finished, not waiting at its confirmation (those are placed by their needs), that ran first in fewer than
    /// <see cref="OrderEvidence.Confirmations"/> runs and is not shown to fail by chance, in a collection apart from the
    /// run's, and cleared for the victim both ways: a run saw the victim pass after it and a run saw it fail after it, so
    /// it is neither its polluter nor its state-setter. The one that ran first the fewest times; null when none fits.
    /// </summary>
    private string? EarlyAlone(string victim, IReadOnlyList<string> tests, HashSet<string> collections)
    {
        var passedAfter = OrderEvidence.Cleared(victim, _runs);
        var failedAfter = OrderEvidence.Cleared(victim, _runs, brittle: true);
        return _orderCases.Where(c => c.Value is not { IsCompleted: true }).Select(c => c.Key)
            .Where(v => v != victim && !tests.Contains(v, StringComparer.Ordinal) && !collections.Contains(CollectionKey(v))
                && passedAfter.Contains(v) && failedAfter.Contains(v)
                && _pool?.Cases.Any(c => c.Victim == v && c.Waiting) != true
                && OrderEvidence.ExactReplayDisagreement(v, _runs) is null)
            .Select((v, i) => (Victim: v, First: RunsFirst(v), Index: i))
            .Where(x => x.First < OrderEvidence.Confirmations)
            .OrderBy(x => x.First).ThenBy(x => x.Index)
            .Select(x => x.Victim).FirstOrDefault();
    }

    /// <summary>
    /// Runs a list made for <paramref name="victim"/> with order cases waiting for their confirmation in the same process,
    /// when some fit: before it, one that needs a run alone (it runs first) and is cleared for the victim (so the
    /// victim's outcome stays its own); after it, the groups of <see cref="ConfirmationsAfter"/>. Null: none fits.
    /// </summary>
    /// <remarks>
    /// <paramref name="riders"/>: the chaos suspects that could ride along after the victim in a run of the list alone
    /// (<see cref="RidersFor"/>). They ride after everything else here when all of them still fit there (each cleared of
    /// every test before it); when some would not, null is returned, so the caller makes the run with them instead.
    /// </remarks>
    private async Task<(RunResult Run, string? Note)?> RunWithConfirmationsAsync(RunRequest request, string victim, bool brittle, CancellationToken cancellationToken, bool exact = false, IReadOnlyList<string>? riders = null)
    {
        if (_pool is not { } pool || request.Tests is not { Count: > 0 } tests)
        {
            return null;
        }

        // A run of the victim alone stays alone: nothing goes before it then. Nor before an exact replay of a run one at a
        // time (the same tests before the victim, in the same order): only an exact replay can show it fails by chance
        // (OrderEvidence.ExactReplayDisagreement).
        var collections = tests.Select(CollectionKey).ToHashSet(StringComparer.Ordinal);
        var cleared = OrderEvidence.Cleared(victim, _runs, brittle);
        var first = tests.Count == 1 || exact ? null : pool.Cases.Where(c => c.Waiting && !tests.Contains(c.Victim, StringComparer.Ordinal) && !collections.Contains(CollectionKey(c.Victim)) && cleared.Contains(c.Victim))
            .Select(c => (Case: c, Needs: NeedsOf(c))).Where(x => x.Needs is { Alone: > 0 })
            .OrderByDescending(x => x.Needs!.Value.Alone + x.Needs.Value.After.Sum()).ThenBy(x => x.Case.Order)
            .Select(x => x.Case).FirstOrDefault();
        // Else an order case not diagnosed yet (or not parked) that has run first in its process fewer than 3 times: its
        // run alone, made early. Every order case needs such runs (to pass alone 3 times, or fail alone 3 times when
        // brittle; its bisection's run alone), and each process has one first place.
        var early = first is null && tests.Count > 1 && !exact ? EarlyAlone(victim, tests, collections) : null;
        IReadOnlyList<string> list = first is not null ? [first.Victim, .. tests] : early is not null ? [early, .. tests] : tests;
        // A search that waits runs last as an observer when the tests before it hold some it has not cleared or
        // singled out yet; otherwise its confirmation groups for the polluters found may join as any case's.
        var watching = Observers(list);
        var groups = ConfirmationsAfter(list).Where(g => g.Case != first && !watching.Contains(g.Case.Victim)).ToList();
        var observers = Observers([.. list, .. groups.SelectMany(g => g.Tests)]).Where(watching.Contains).ToList();
        if (first is null && early is null && groups.Count == 0 && observers.Count == 0)
        {
            return null;
        }

        List<string> all = [.. list, .. groups.SelectMany(g => g.Tests), .. observers];
        var riding = riders is { Count: > 0 } ? RidersFor(all, request.Seed) : [];
        if (riders is { Count: > 0 } && !riders.All(riding.Contains))
        {
            return null; // the chaos suspects ride along in a run of the list alone
        }

        var shared = await DiagnosticAsync(request with
        {
            Name = $"{request.Name}, {(first is null && early is null && groups.Count == 0 ? "others after it" : first is null && early is null ? "confirmations after it" : groups.Count == 0 ? "a run alone before it" : "confirmations with it")}",
            Tests = [.. all, .. riding],
            TestChaos = riding.Count == 0 ? null : riding.ToDictionary(t => t, t => _chaosPlan[t], StringComparer.Ordinal),
        }, cancellationToken).ConfigureAwait(false);
        var watched = (observers.Count == 0 ? string.Empty
            : $"; {string.Join(", ", observers)} ran last, {(observers.Count == 1 ? "its" : "their")} search for more polluters waiting: what ran before {(observers.Count == 1 ? "it" : "them")} is cleared or singled out")
            + (riding.Count == 0 ? string.Empty : $"; the chaos {(riding.Count == 1 ? "suspect" : "suspects")} {string.Join(", ", riding)} ran last, each under its own mode, to be checked there");
        if (first is null && early is null && groups.Count == 0)
        {
            return (shared, $"in that run{watched[1..]}");
        }

        if (early is not null)
        {
            var note = $"in that run {early} ran first, alone, for its own diagnosis (earlier runs saw {victim} pass after it and fail after it, so it changes nothing for it)";
            if (groups.Count == 0)
            {
                return (shared, note + watched);
            }

            var confirmed = groups.Select(g => g.Case.Victim).ToArray();
            return (shared, $"{note}; {string.Join(", ", confirmed)} {(confirmed.Length == 1 ? "was" : "were")} confirmed after it{watched}");
        }

        var victims = groups.Count + (first is null ? 1 : 2);
        first?.Runs.Add((shared, -1, victims));
        foreach (var (confirmation, suspect, _) in groups)
        {
            confirmation.Runs.Add((shared, suspect, victims));
        }

        var others = groups.Select(g => g.Case.Victim).Prepend(first?.Victim).OfType<string>().ToArray();
        var before = first is null ? string.Empty
            : $"{first.Victim} first, alone (an earlier run saw {victim} {(brittle ? "fail" : "pass")} after it, so it changes nothing for it); ";
        return (shared, $"in that run {string.Join(", ", others)} {(others.Length == 1 ? "was" : "were")} confirmed too ({before}the others after it){watched}");
    }
}
