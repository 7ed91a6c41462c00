namespace Deflake.Cli.Running;

/// <summary>How a run orders its tests (what <c>DEFLAKE_ORDER</c> is set to).</summary>
internal enum RunOrderKind
{
    /// <summary>The framework's own order (<c>DEFLAKE_ORDER</c> unset).</summary>
    Default,

    /// <summary><c>random</c>, seeded by the run's seed.</summary>
    Random,

    /// <summary><c>reverse</c>.</summary>
    Reverse,

    /// <summary>A file listing exactly the tests to run, in order.</summary>
    List,
}

/// <summary>The kinds of run that may come next (<see cref="ITestRunner.ExpectNext"/>).</summary>
[Flags]
internal enum RunKinds
{
    /// <summary>No more runs are expected.</summary>
    None = 0,

    /// <summary>A run one test at a time (<c>-parallel none</c>).</summary>
    OneAtATime = 1,

    /// <summary>A run with collections in parallel.</summary>
    Parallel = 2,

    /// <summary>Either kind may come.</summary>
    Either = OneAtATime | Parallel,
}

/// <summary>One run of the test assembly: which tests, in which order, under which chaos, with which seed.</summary>
/// <param name="Name">Short name for progress and reports: <c>baseline</c>, <c>random #2</c>, …</param>
/// <param name="Order">The order.</param>
/// <param name="Chaos">The chaos mode list for <c>DEFLAKE_CHAOS</c> (<c>none</c> for none).</param>
/// <param name="Seed">The seed for <c>DEFLAKE_SEED</c> (and xUnit's own randomisation).</param>
/// <param name="Parallel">Whether test collections run in parallel (with unlimited threads, to expose collisions).</param>
/// <param name="Tests">For <see cref="RunOrderKind.List"/>, and for a filtered run: exactly these tests; null: all.</param>
internal sealed record RunRequest(string Name, RunOrderKind Order, string Chaos, int Seed, bool Parallel, IReadOnlyList<string>? Tests = null)
{
    /// <summary>
    /// Chaos modes per test (<c>DEFLAKE_CHAOS_TESTS</c>), overriding <see cref="Chaos"/> for the tests named; null: none.
    /// </summary>
    public IReadOnlyDictionary<string, string>? TestChaos { get; init; }

    /// <summary>The chaos modes a test runs under in this run.</summary>
    public string ChaosOf(string testId) => TestChaos is not null && TestChaos.TryGetValue(testId, out var modes) ? modes : Chaos;

    /// <summary>What <see cref="Order"/> means, for reports.</summary>
    public string OrderName => Order switch
    {
        RunOrderKind.Random => "random",
        RunOrderKind.Reverse => "reverse",
        RunOrderKind.List => "list",
        _ => "default",
    };
}

/// <summary>One test's outcome in a run (all rows of a theory folded into one: first start, last finish).</summary>
internal sealed record TestOutcome(string TestId, bool Passed, string? Message, DateTimeOffset? Start, DateTimeOffset? Finish = null)
{
    /// <summary>The test collection it ran in (tests of one collection never run at the same time), when known.</summary>
    public string? Collection { get; init; }

    /// <summary>Whether both ran at the same time: true or false when both have start and finish times, null when that is unknown.</summary>
    public bool? OverlapsWith(TestOutcome other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Start is { } start && Finish is { } finish && other.Start is { } otherStart && other.Finish is { } otherFinish
            ? start <= otherFinish && otherStart <= finish
            : null;
    }
}

/// <summary>The outcome of a run: tests in the order they started.</summary>
internal sealed record RunResult(RunRequest Request, IReadOnlyList<TestOutcome> Tests, TimeSpan Duration, string Reproduce)
{
    /// <summary>
    /// How many distinct test ids the results name, skipped and not-run tests included (the runner reports every
    /// test it selected); null when unknown. For a run of the whole suite: the number of tests, without a listing.
    /// </summary>
    public int? Discovered { get; init; }

    /// <summary>What the test process reported about Deflake databases (<c>DEFLAKE_ACTIVITY</c>); null when it reported nothing.</summary>
    public DatabaseActivity? Activity { get; init; }

    /// <summary>
    /// For a run under chaos: true when a test used a Deflake database under chaos, false when the process reported
    /// that none did (nothing was checked), null when unknown (no chaos, or a process that does not report) and under
    /// an environment mode (culture, timezone: the process itself is the chaos, no database is needed).
    /// </summary>
    public bool? ChaosReached => Request.Chaos == "none" || EnvironmentChaos.IsEnvironmentMode(Request.Chaos) ? null : Activity?.RentedUnderChaos;

    /// <summary>How many tests passed.</summary>
    public int Passed => Tests.Count(t => t.Passed);

    /// <summary>How many tests failed.</summary>
    public int Failed => Tests.Count(t => !t.Passed);

    /// <summary>Whether the test ran and failed.</summary>
    public bool FailedTest(string testId) => Tests.Any(t => !t.Passed && t.TestId == testId);

    /// <summary>The outcome of a test, if it ran.</summary>
    public TestOutcome? OutcomeOf(string testId) => Tests.FirstOrDefault(t => t.TestId == testId);

    /// <summary>Whether the test ran and passed.</summary>
    public bool PassedTest(string testId) => Tests.Any(t => t.Passed && t.TestId == testId);

    /// <summary>The failure message of a test, if it failed.</summary>
    public string? MessageOf(string testId) => Tests.FirstOrDefault(t => !t.Passed && t.TestId == testId)?.Message;

    /// <summary>
    /// The tests of its own collection that started before <paramref name="testId"/>, in order: in a parallel run they
    /// ran one at a time before it, like a one-at-a-time run's prefix. Empty when collections are unknown.
    /// </summary>
    public IReadOnlyList<string> RanBeforeInCollection(string testId)
        => OutcomeOf(testId)?.Collection is { } collection
            ? Tests.TakeWhile(t => t.TestId != testId).Where(t => t.Collection == collection).Select(t => t.TestId).ToArray()
            : [];

    /// <summary>The tests that started before <paramref name="testId"/> in this run, in order.</summary>
    public IReadOnlyList<string> RanBefore(string testId)
        => Tests.TakeWhile(t => t.TestId != testId).Select(t => t.TestId).ToArray();
}

/// <summary>
/// What a test process did with Deflake databases, from its <c>DEFLAKE_ACTIVITY</c> file: the chaos modes of the pools it
/// started, and of those that handed out a database (one entry per pool; <c>none</c> without chaos).
/// </summary>
internal sealed record DatabaseActivity(IReadOnlyList<string> Pools, IReadOnlyList<string> Rents)
{
    /// <summary>
    /// The keys <c>identities</c> chaos could not cover in the templates of the pools started under it, as the pools
    /// reported them (one line per key and pool: duplicates are possible; <see cref="IdentityCoverage"/> folds them).
    /// </summary>
    public IReadOnlyList<UncoveredKey> NotCovered { get; init; } = [];

    /// <summary>A test rented a database from a pool under some chaos mode.</summary>
    public bool RentedUnderChaos => Rents.Any(m => m != "none");

    /// <summary>Why a run under chaos checked nothing, for its line on the console; null when it checked something.</summary>
    public string? NothingChecked => RentedUnderChaos ? null
        : Pools.Count == 0 ? "no test used a Deflake database — nothing was checked"
        : "a Deflake pool started, but no test rented a database from it — nothing was checked";

    /// <summary>
    /// Reads the file's lines (<c>process</c>, <c>pool&lt;TAB&gt;modes</c>, <c>rent&lt;TAB&gt;modes</c>,
    /// <c>uncovered&lt;TAB&gt;engine&lt;TAB&gt;key&lt;TAB&gt;reason</c>); null when nothing reported. Lines it does not
    /// know (a newer Deflake's) are skipped.
    /// </summary>
    public static DatabaseActivity? Parse(IReadOnlyList<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.Count == 0)
        {
            return null;
        }

        var fields = lines.Select(l => l.Split('\t')).ToArray();
        string[] Of(string kind) => fields.Where(p => p.Length == 2 && p[0] == kind).Select(p => p[1].Trim()).ToArray();
        return new DatabaseActivity(Of("pool"), Of("rent"))
        {
            NotCovered = fields.Where(p => p.Length == 4 && p[0] == "uncovered" && p[2].Trim().Length > 0)
                .Select(p => new UncoveredKey(p[1].Trim(), p[2].Trim(), p[3].Trim())).ToArray(),
        };
    }
}

/// <summary>A key <c>identities</c> chaos could not give a range of its own, as a test process's pool reported it.</summary>
/// <param name="Engine">The engine's kind: <c>sqlite</c>, <c>postgres</c>, <c>mariadb</c>.</param>
/// <param name="Key">The table (SQLite), <c>table.column</c> (MariaDB) or <c>schema.table.column</c> (PostgreSQL).</param>
/// <param name="Reason">Why, in a few words (<c>no counter: INTEGER PRIMARY KEY without AUTOINCREMENT</c>).</param>
internal sealed record UncoveredKey(string Engine, string Key, string Reason);

/// <summary>What <c>identities</c> chaos covered over a hunt's runs.</summary>
internal static class IdentityCoverage
{
    /// <summary>
    /// Every key some run's pools reported as not covered, once (by engine and key, whatever the number of runs, test
    /// processes and pools that reported it; the first reason wins), ordered by engine, then key.
    /// </summary>
    public static IReadOnlyList<UncoveredKey> NotCovered(IEnumerable<RunResult> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        return runs.SelectMany(r => r.Activity?.NotCovered ?? [])
            .DistinctBy(k => (k.Engine, k.Key))
            .OrderBy(k => k.Engine, StringComparer.Ordinal).ThenBy(k => k.Key, StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>
    /// One sentence per engine and reason, for people: <c>chaos identities: 2 sqlite tables not covered (no counter: …):
    /// notes, tags — their ids count as without chaos; see docs/chaos.md.</c> Empty when every key was covered.
    /// </summary>
    public static IReadOnlyList<string> Sentences(IReadOnlyList<UncoveredKey> notCovered)
    {
        ArgumentNullException.ThrowIfNull(notCovered);
        return notCovered.GroupBy(k => (k.Engine, k.Reason))
            .Select(g => $"chaos identities: {Tables(g.Count(), g.Key.Engine)} not covered ({g.Key.Reason}): {string.Join(", ", g.Select(k => k.Key))} — their ids count as without chaos; see docs/chaos.md.")
            .ToArray();
    }

    /// <summary><c>1 sqlite table</c>, <c>3 postgres tables</c>.</summary>
    public static string Tables(int count, string? engine = null)
        => $"{count.ToString(System.Globalization.CultureInfo.InvariantCulture)} {(engine is null ? string.Empty : engine + " ")}table{(count == 1 ? string.Empty : "s")}";
}

/// <summary>
/// Runs a built test assembly: one runner per framework (<see cref="XunitV3Runner"/>, <see cref="Xunit2Runner"/>,
/// <see cref="TestingPlatformRunner"/> for NUnit and MSTest); the hunter's tests use synthetic suites.
/// </summary>
internal interface ITestRunner : IAsyncDisposable
{
    /// <summary>
    /// Says which kinds of run may come after the next one starts, so a runner that starts its processes ahead of their
    /// runs starts the right ones (none for <see cref="RunKinds.None"/>); it holds until said again. A hint: a run of
    /// another kind still runs, in a process started when it begins.
    /// </summary>
    void ExpectNext(RunKinds kinds)
    {
    }

    /// <summary>
    /// The first run is of this kind, with this seed: a runner that starts its processes ahead starts that run's
    /// process now, so it starts while the caller gets ready. A hint, like <see cref="ExpectNext"/>.
    /// </summary>
    void StartAhead(bool parallel, int seed)
    {
    }

    ValueTask IAsyncDisposable.DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Every test id in the assembly, in discovery order.</summary>
    Task<IReadOnlyList<string>> ListTestsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Every test in the assembly with its traits, in discovery order (what <c>--filter</c> selects from). A runner that
    /// cannot read traits lists the ids without them.
    /// </summary>
    async Task<IReadOnlyList<TestCase>> ListTestCasesAsync(CancellationToken cancellationToken = default)
        => (await ListTestsAsync(cancellationToken).ConfigureAwait(false)).Select(id => new TestCase(id)).ToArray();

    /// <summary>Runs the tests a request asks for.</summary>
    /// <exception cref="CliException">The runner could not run (crash, timeout, no results).</exception>
    Task<RunResult> RunAsync(RunRequest request, CancellationToken cancellationToken = default);

    /// <summary>A shell command line that replays the request (environment variables and runner invocation).</summary>
    string ReproduceCommand(RunRequest request);
}
