using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Deflake.Tests.Leases;

/// <summary>The local backend across real processes (tests/Deflake.TestHost children).</summary>
public sealed partial class LocalLeasesProcessTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private Dictionary<string, string?> Environment => new()
    {
        [DeflakeEnvironment.RuntimeDirectory] = Path.Combine(_directory.Path, "runtime"),
        [DeflakeEnvironment.Seed] = DeflakeEnvironment.CurrentSeed.ToString(CultureInfo.InvariantCulture),
        [DeflakeWorker.EnvironmentVariable] = null,
    };

    private string LeaseDirectory => Path.Combine(_directory.Path, "leases");

    public static TheoryData<int> Repetitions => [.. Enumerable.Range(1, 10)];

    [Theory]
    [MemberData(nameof(Repetitions))]
    public async Task Seed_004_four_processes_of_50_tests_share_3_accounts_without_a_collision(int repetition)
    {
        var (tests, collisions, output) = await RunShopAsync("local", processes: 4, repetition);
        Assert.True(collisions == 0, output);
        Assert.Equal(200, tests);
    }

    [Fact]
    public async Task Seed_004_without_leases_collides_which_is_what_the_leases_prevent()
    {
        var (tests, collisions, output) = await RunShopAsync("none", processes: 4, repetition: 0);
        Assert.Equal(200, tests);
        Assert.True(collisions > 0, "expected the unleased shop to collide: " + output);
    }

    [Fact]
    public async Task A_lease_of_a_killed_process_is_free_again_within_2_seconds()
    {
        await using var holder = HostChild.Start("lease-hold",
            ["--backend", "local", "--dir", LeaseDirectory, "--resource", "accounts", "--candidates", "alice", "--test", "Checkout_7"], Environment);
        await holder.ReadLineStartingAsync("held alice", TimeSpan.FromSeconds(60));
        await using var leases = Deflake.Leases.Local(new LeaseOptions { Directory = LeaseDirectory });

        // Held by the child: the timeout names it, its pid and its test.
        var error = await Assert.ThrowsAsync<LeaseTimeoutException>(async () =>
            await leases.AcquireAsync("accounts", ["alice"], TimeSpan.FromMilliseconds(100), TestContext.Current.CancellationToken));
        Assert.Contains($"'alice' held by worker w0 (pid {holder.Id} on {System.Environment.MachineName}), test 'Checkout_7'", error.Message, StringComparison.Ordinal);

        await holder.KillAsync();
        var clock = Stopwatch.StartNew();
        await using var lease = await leases.AcquireAsync("accounts", ["alice"], TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
        Assert.Equal("alice", lease.Value);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_waiter_killed_in_the_queue_does_not_block_the_waiters_behind_it()
    {
        await using var leases = Deflake.Leases.Local(new LeaseOptions { Directory = LeaseDirectory });
        var held = await leases.AcquireAsync("printer", ["only"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await using var queued = HostChild.Start("lease-hold",
            ["--backend", "local", "--dir", LeaseDirectory, "--resource", "printer", "--candidates", "only"], Environment);
        var clock = Stopwatch.StartNew();
        while (!Directory.EnumerateFiles(LeaseDirectory, "*.ticket", SearchOption.AllDirectories).Any())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the child never queued; " + queued.Stderr);
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        await queued.KillAsync();
        await held.DisposeAsync();
        await using var lease = await leases.AcquireAsync("printer", ["only"], TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal("only", lease.Value);
        Assert.Empty(Directory.EnumerateFiles(LeaseDirectory, "*.ticket", SearchOption.AllDirectories));
    }

    /// <summary>Starts the shop children together (ready lines, then a go file) and sums their results.</summary>
    private async Task<(int Tests, int Collisions, string Output)> RunShopAsync(string backend, int processes, int repetition)
    {
        var go = Path.Combine(_directory.Path, $"go-{repetition}");
        var children = Enumerable.Range(0, processes).Select(_ => HostChild.Start("shop",
            ["--db", Path.Combine(_directory.Path, $"shop-{repetition}.db"), "--backend", backend, "--dir", LeaseDirectory,
             "--tests", "50", "--accounts", "3", "--go", go], Environment)).ToList();
        try
        {
            foreach (var child in children)
            {
                await child.ReadLineStartingAsync("ready", TimeSpan.FromSeconds(60));
            }

            await File.WriteAllTextAsync(go, "go", TestContext.Current.CancellationToken);
            int tests = 0, collisions = 0;
            var output = new List<string>();
            foreach (var child in children)
            {
                var stdout = await child.WaitForSuccessAsync(TimeSpan.FromSeconds(60));
                var result = ResultLine().Match(stdout);
                Assert.True(result.Success, stdout);
                tests += int.Parse(result.Groups[1].Value, CultureInfo.InvariantCulture);
                collisions += int.Parse(result.Groups[2].Value, CultureInfo.InvariantCulture);
                output.Add(stdout.Trim());
            }

            return (tests, collisions, string.Join(" | ", output));
        }
        finally
        {
            foreach (var child in children)
            {
                await child.DisposeAsync();
            }
        }
    }

    [GeneratedRegex(@"result tests=(\d+) collisions=(\d+)")]
    private static partial Regex ResultLine();
}
