using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Deflake.Coordination;
using Npgsql;

using Deflake.Testing;

namespace Deflake.Postgres.Tests.Leases;

/// <summary>
/// The PostgreSQL backend: session advisory locks on a real server, across tasks and processes. Resource names carry
/// this process's token so parallel runs on one server never meet.
/// </summary>
public sealed partial class PostgresLeasesTests : IAsyncLifetime
{
    private static int _count;
    private readonly TempDirectory _directory = new();
    private string _connectionString = null!;
    private Deflake.Leases _leases = null!;

    public async ValueTask InitializeAsync()
    {
        _connectionString = await PostgresTestServer.GetAdminConnectionStringAsync(TestContext.Current.CancellationToken);
        _leases = Deflake.Leases.Postgres(_connectionString, new LeaseOptions { TestName = () => "PostgresLeasesTests" });
    }

    public async ValueTask DisposeAsync()
    {
        await _leases.DisposeAsync();
        _directory.Dispose();
    }

    private static string Unique(string name) => $"{name}-{ProcessIdentity.Token}-{Interlocked.Increment(ref _count)}";

    private Dictionary<string, string?> Environment => new()
    {
        [DeflakeEnvironment.RuntimeDirectory] = Path.Combine(_directory.Path, "runtime"),
        [DeflakeEnvironment.Postgres] = _connectionString,
        [DeflakeWorker.EnvironmentVariable] = null,
    };

    [Fact]
    public async Task A_lease_hands_out_the_first_free_candidate_and_releases_it_on_dispose()
    {
        var resource = Unique("accounts");
        Assert.Equal("postgres", _leases.Kind);
        var first = await _leases.AcquireAsync(resource, ["alice", "bob"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await using (var second = await _leases.AcquireAsync(resource, ["alice", "bob"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken))
        {
            Assert.Equal(("alice", "bob"), (first.Value, second.Value));
        }

        await first.DisposeAsync();
        await using var again = await _leases.AcquireAsync(resource, ["alice", "bob"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal("alice", again.Value);
    }

    [Fact]
    public async Task Concurrent_tasks_never_hold_the_same_candidate()
    {
        var resource = Unique("accounts");
        var holders = new ConcurrentDictionary<string, int>();
        int overlaps = 0, taken = 0;
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 15; i++)
            {
                await using var lease = await _leases.AcquireAsync(resource, ["a", "b", "c"], TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
                if (holders.AddOrUpdate(lease.Value, 1, (_, n) => n + 1) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                Interlocked.Increment(ref taken);
                await Task.Delay(1, TestContext.Current.CancellationToken);
                holders.AddOrUpdate(lease.Value, 0, (_, n) => n - 1);
            }
        }, TestContext.Current.CancellationToken)));
        Assert.Equal((90, 0), (taken, overlaps));
    }

    [Fact]
    public async Task A_timeout_names_the_resource_the_candidates_and_the_holding_session()
    {
        var resource = Unique("accounts");
        await using var held = await _leases.AcquireAsync(resource, ["alice"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await using var other = Deflake.Leases.Postgres(_connectionString);

        var error = await Assert.ThrowsAsync<LeaseTimeoutException>(async () =>
            await other.AcquireAsync(resource, ["alice"], TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken));

        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains($"'{resource}' (postgres)", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'alice' held by 'deflake {DeflakeWorker.Id} pid {System.Environment.ProcessId} on", error.Message, StringComparison.Ordinal);
        Assert.Contains("server pid", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_a_queued_waiter_throws_OperationCanceledException_promptly_and_leaves_the_queue()
    {
        var resource = Unique("printer");
        await using var held = await _leases.AcquireAsync(resource, ["only"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await _leases.AcquireAsync(resource, ["only"], TimeSpan.FromMinutes(5), cts.Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        await held.DisposeAsync();
        await using var next = await _leases.AcquireAsync(resource, ["only"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal("only", next.Value);
    }

    [Fact]
    public async Task Waiters_are_served_first_come_first_served()
    {
        var resource = Unique("printer");
        var held = await _leases.AcquireAsync(resource, ["only"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        var order = new ConcurrentQueue<int>();
        var waiters = new List<Task>();
        for (var i = 0; i < 4; i++)
        {
            var number = i;
            waiters.Add(Task.Run(async () =>
            {
                await using var lease = await _leases.AcquireAsync(resource, ["only"], TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
                order.Enqueue(number);
            }, TestContext.Current.CancellationToken));

            // The first waiter holds the queue key; each later one waits for it. Let each arrive in turn.
            await WaitUntilAsync(async () => await QueueStateAsync(resource, ["only"]) == (1, i), $"waiter {i} never queued");
        }

        await held.DisposeAsync();
        await Task.WhenAll(waiters);
        Assert.Equal([0, 1, 2, 3], order);
    }

    [Fact]
    public async Task A_lease_of_a_killed_process_is_free_as_soon_as_the_server_sees_the_disconnect()
    {
        var resource = Unique("accounts");
        await using var holder = HostChild.Start("lease-hold",
            ["--backend", "postgres", "--resource", resource, "--candidates", "alice", "--test", "Checkout_7"], Environment);
        await holder.ReadLineStartingAsync("held alice", TimeSpan.FromSeconds(60));
        var error = await Assert.ThrowsAsync<LeaseTimeoutException>(async () =>
            await _leases.AcquireAsync(resource, ["alice"], TimeSpan.FromMilliseconds(100), TestContext.Current.CancellationToken));
        Assert.Contains($"pid {holder.Id} on", error.Message, StringComparison.Ordinal);
        Assert.Contains("Checkout_7", error.Message, StringComparison.Ordinal);

        await holder.KillAsync();
        var clock = Stopwatch.StartNew();
        await using var lease = await _leases.AcquireAsync(resource, ["alice"], TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal("alice", lease.Value);
        TestContext.Current.SendDiagnosticMessage($"free again {clock.ElapsedMilliseconds} ms after kill -9");
    }

    [Fact]
    public async Task Seed_004_two_processes_of_50_tests_share_3_accounts_without_a_collision()
    {
        var resource = Unique("accounts");
        var go = Path.Combine(_directory.Path, "go");
        var children = Enumerable.Range(0, 2).Select(_ => HostChild.Start("shop",
            ["--db", Path.Combine(_directory.Path, "shop.db"), "--backend", "postgres", "--resource", resource,
             "--tests", "50", "--accounts", "3", "--go", go], Environment)).ToList();
        try
        {
            foreach (var child in children)
            {
                await child.ReadLineStartingAsync("ready", TimeSpan.FromSeconds(60));
            }

            await File.WriteAllTextAsync(go, "go", TestContext.Current.CancellationToken);
            int tests = 0, collisions = 0;
            foreach (var child in children)
            {
                var stdout = await child.WaitForSuccessAsync(TimeSpan.FromSeconds(60));
                var result = ResultLine().Match(stdout);
                Assert.True(result.Success, stdout);
                tests += int.Parse(result.Groups[1].Value, CultureInfo.InvariantCulture);
                collisions += int.Parse(result.Groups[2].Value, CultureInfo.InvariantCulture);
                Assert.True(collisions == 0, stdout);
            }

            Assert.Equal((100, 0), (tests, collisions));
        }
        finally
        {
            foreach (var child in children)
            {
                await child.DisposeAsync();
            }
        }
    }

    [Fact]
    public void A_bad_connection_string_fails_without_echoing_it()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => Deflake.Leases.Postgres("Host=x;Password=s3cret;Bogus Key=1"));
        Assert.Equal("connectionString", error.Setting);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
        Assert.Throws<DeflakeConfigurationException>(() => Deflake.Leases.Postgres(" "));
    }

    [Fact]
    public async Task Invalid_input_is_rejected_before_the_server_is_asked()
    {
        await Assert.ThrowsAsync<ArgumentException>(async () =>
            await _leases.AcquireAsync("accounts", ["a", "a"], TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
            await _leases.AcquireAsync("accounts", ["a"], TimeSpan.Zero, TestContext.Current.CancellationToken));
    }

    /// <summary>(granted, waiting) locks on the queue key of a resource's candidate set.</summary>
    private async Task<(long Granted, long Waiting)> QueueStateAsync(string resource, string[] candidates)
    {
        var sorted = candidates.Order(StringComparer.Ordinal);
        var setHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', sorted))).AsSpan(0, 6));
        var key = PostgresLeaseBackend.QueueKey(resource, setHash);
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) FROM pg_locks
            WHERE locktype = 'advisory' AND objsubid = 1 AND classid = (($1 >> 32) & 4294967295)::oid AND objid = ($1 & 4294967295)::oid
            """, connection);
        command.Parameters.AddWithValue(key);
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        await reader.ReadAsync(TestContext.Current.CancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string failure)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), failure);
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }

    [GeneratedRegex(@"result tests=(\d+) collisions=(\d+)")]
    private static partial Regex ResultLine();
}
