using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Hunting;

/// <summary>
/// A suite without processes: each test is a rule deciding whether it fails in a given run, so the hunt's
/// reasoning can be tested exactly and fast.
/// </summary>
internal sealed class SyntheticRunner : ITestRunner
{
    private readonly List<(string Id, Func<RunRequest, IReadOnlyList<string>, bool> Fails, string Message)> _tests = [];

    public List<RunRequest> Requests { get; } = [];

    /// <summary>What the hunt said to expect, each time with the number of runs requested before it said so.</summary>
    public List<(int RunsBefore, RunKinds Kinds)> Expectations { get; } = [];

    /// <summary>What the hunt asked to start before its first run, if anything.</summary>
    public (bool Parallel, int Seed)? StartedAhead { get; private set; }

    public void ExpectNext(RunKinds kinds) => Expectations.Add((Requests.Count, kinds));

    public void StartAhead(bool parallel, int seed) => StartedAhead = (parallel, seed);

    public SyntheticRunner Add(string id, Func<RunRequest, IReadOnlyList<string>, bool>? fails = null, string message = "synthetic failure")
    {
        _tests.Add((id, fails ?? ((_, _) => false), message));
        return this;
    }

    public int Listings { get; private set; }

    public Task<IReadOnlyList<string>> ListTestsAsync(CancellationToken cancellationToken = default)
    {
        Listings++;
        return Task.FromResult<IReadOnlyList<string>>(_tests.Select(t => t.Id).ToArray());
    }

    public Task<RunResult> RunAsync(RunRequest request, CancellationToken cancellationToken = default)
    {
        Requests.Add(request);
        var ids = _tests.Select(t => t.Id).ToList();
        IEnumerable<string> order = request.Order switch
        {
            RunOrderKind.Reverse => Enumerable.Reverse(ids),
            RunOrderKind.Random => ids.OrderBy(id => Hash(request.Seed, id)),
            RunOrderKind.List => request.Tests ?? [],
            _ => ids,
        };
        if (request.Tests is not null && request.Order != RunOrderKind.List)
        {
            order = order.Where(request.Tests.Contains);
        }

        var ran = new List<string>();
        var outcomes = new List<TestOutcome>();
        var start = DateTimeOffset.UnixEpoch;
        var running = order.ToArray();
        foreach (var id in running)
        {
            var test = _tests.Single(t => t.Id == id);
            var failed = test.Fails(request with { Chaos = request.ChaosOf(id), TestChaos = null }, request.Parallel ? running : ran);
            // One collection per class, as xUnit does by default; no finish times, so concurrency is unknown.
            outcomes.Add(new TestOutcome(id, !failed, failed ? test.Message : null, start = start.AddSeconds(1)) { Collection = id[..id.LastIndexOf('.')] });
            ran.Add(id);
        }

        return Task.FromResult(new RunResult(request, outcomes, TimeSpan.FromMilliseconds(10), ReproduceCommand(request)));
    }

    public string ReproduceCommand(RunRequest request) => $"replay {request.Name}";

    private static ulong Hash(int seed, string id)
    {
        var hash = 14695981039346656037UL ^ (uint)seed;
        foreach (var c in id)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }
}
