using System.Collections.Concurrent;
using System.Diagnostics;

namespace Deflake.Tests.Leases;

/// <summary>The local backend within one process: real lock files, many threads.</summary>
public sealed class LocalLeasesTests : IDisposable
{
    private static readonly string[] Accounts = ["alice", "bob", "carol"];
    private readonly TempDirectory _directory = new();
    private readonly Deflake.Leases _leases;

    public LocalLeasesTests()
    {
        _leases = Deflake.Leases.Local(new LeaseOptions { Directory = _directory.Path, TestName = () => "LocalLeasesTests" });
    }

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task A_lease_hands_out_the_first_free_candidate_and_releases_it_on_dispose()
    {
        var first = await _leases.AcquireAsync("accounts", Accounts, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal(("alice", 0, "accounts"), (first.Value, first.Index, first.Resource));
        await using (var second = await _leases.AcquireAsync("accounts", Accounts, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken))
        {
            Assert.Equal("bob", second.Value);
        }

        await first.DisposeAsync();
        Assert.False(first.IsHeld);
        await first.DisposeAsync(); // twice is fine
        await using var again = await _leases.AcquireAsync("accounts", Accounts, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal("alice", again.Value);
    }

    [Fact]
    public async Task Concurrent_tasks_never_hold_the_same_candidate()
    {
        var holders = new ConcurrentDictionary<string, int>();
        var overlaps = 0;
        var taken = 0;
        var tasks = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                await using var lease = await _leases.AcquireAsync("accounts", Accounts, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
                if (holders.AddOrUpdate(lease.Value, 1, (_, n) => n + 1) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                Interlocked.Increment(ref taken);
                await Task.Yield();
                holders.AddOrUpdate(lease.Value, 0, (_, n) => n - 1);
            }
        }, TestContext.Current.CancellationToken)).ToArray();
        await Task.WhenAll(tasks);
        Assert.Equal((200, 0), (taken, overlaps));
    }

    [Fact]
    public async Task A_timeout_names_the_resource_every_candidate_and_who_holds_it()
    {
        await using var a = await _leases.AcquireAsync("accounts", ["alice", "bob"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await using var b = await _leases.AcquireAsync("accounts", ["alice", "bob"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<LeaseTimeoutException>(async () =>
            await _leases.AcquireAsync("accounts", ["alice", "bob"], TimeSpan.FromMilliseconds(200), TestContext.Current.CancellationToken));

        Assert.Equal("accounts", error.Resource);
        Assert.Equal(["alice", "bob"], error.Candidates);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("'accounts' (local)", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'alice' held by worker {DeflakeWorker.Id} (pid {Environment.ProcessId} on {Environment.MachineName}), test 'LocalLeasesTests'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'bob' held by worker", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<TimeoutException>(error);
    }

    [Fact]
    public async Task Cancelling_a_waiter_throws_OperationCanceledException_promptly()
    {
        await using var held = await _leases.AcquireAsync("printer", ["only"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await _leases.AcquireAsync("printer", ["only"], TimeSpan.FromMinutes(5), cts.Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task An_already_cancelled_token_throws_before_taking_anything()
    {
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await _leases.AcquireAsync("printer", ["only"], TimeSpan.FromSeconds(5), new CancellationToken(canceled: true)));
        await using var lease = await _leases.AcquireAsync("printer", ["only"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal("only", lease.Value);
    }

    [Fact]
    public async Task Waiters_are_served_first_come_first_served()
    {
        var held = await _leases.AcquireAsync("printer", ["only"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        var order = new ConcurrentQueue<int>();
        var waiters = new List<Task>();
        for (var i = 0; i < 4; i++)
        {
            var number = i;
            waiters.Add(Task.Run(async () =>
            {
                await using var lease = await _leases.AcquireAsync("printer", ["only"], TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
                order.Enqueue(number);
            }, TestContext.Current.CancellationToken));
            await WaitForTicketsAsync("printer", i + 1); // the next waiter arrives only once this one is in line
        }

        await held.DisposeAsync();
        await Task.WhenAll(waiters);
        Assert.Equal([0, 1, 2, 3], order);
    }

    [Fact]
    public async Task A_newcomer_does_not_overtake_a_queued_waiter()
    {
        var held = await _leases.AcquireAsync("printer", ["only"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        var waiter = _leases.AcquireAsync("printer", ["only"], TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken).AsTask();
        await WaitForTicketsAsync("printer", 1);
        await held.DisposeAsync();

        // The queued waiter gets the candidate; a newcomer that arrives meanwhile queues behind it.
        await using var first = await waiter;
        var error = await Assert.ThrowsAsync<LeaseTimeoutException>(async () =>
            await _leases.AcquireAsync("printer", ["only"], TimeSpan.FromMilliseconds(100), TestContext.Current.CancellationToken));
        Assert.Contains("'only' held by worker", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resources_and_candidate_names_with_any_characters_map_to_distinct_files()
    {
        string[] odd = ["a/b", "a_b", "a\\b", "../x", "ünïcödé", "with space", new string('x', 200)];
        var leases = new List<Lease>();
        foreach (var name in odd)
        {
            leases.Add(await _leases.AcquireAsync("odd/../names", [name], TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken));
        }

        Assert.Equal(odd, leases.Select(l => l.Value));
        Assert.All(Directory.EnumerateFileSystemEntries(_directory.Path, "*", SearchOption.AllDirectories),
            path => Assert.StartsWith(_directory.Path, Path.GetFullPath(path), StringComparison.Ordinal));
        foreach (var lease in leases)
        {
            await lease.DisposeAsync();
        }
    }

    private async Task WaitForTicketsAsync(string resource, int count)
    {
        var clock = Stopwatch.StartNew();
        while (Directory.EnumerateFiles(_directory.Path, "*.ticket", SearchOption.AllDirectories).Count() < count)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"{count} waiter(s) of '{resource}' never queued");
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }
}
