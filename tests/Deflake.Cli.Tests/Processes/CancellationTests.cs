using System.Runtime.InteropServices;
using System.Text;
using Deflake.Cli.Commands;
using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Processes;

/// <summary>
/// Stopping a hunt from outside, for real: the deflake tool in its own process, hunting samples/Shop.FlakyTests, gets a
/// signal while one run's test process runs and the next one's waits at its start gate. It must end as cancelled and
/// leave no test process behind, whichever way it is stopped.
/// </summary>
[Collection(SampleCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class CancellationTests
{
    private const int SigInt = 2;
    private const int SigKill = 9;
    private const int SigTerm = 15;

    [Theory]
    [InlineData(SigInt)] // Ctrl+C
    [InlineData(SigTerm)] // what CI systems and `timeout` send
    public async Task A_hunt_stopped_by_a_signal_says_cancelled_exits_130_and_leaves_no_test_process(int signal)
    {
        // A shell without job control starts background commands with SIGINT ignored, and every child inherits that
        // (deflake too, rightly: 'nohup deflake … &' must not stop on Ctrl+C): then there is nothing to test.
        Assert.SkipWhen(signal == SigInt && IgnoresSignal(SigInt), "SIGINT is ignored in this test process (started in the background by a shell?), so deflake inherits it ignored");
        await using var hunt = await StartHuntAsync();

        Assert.Equal(0, Kill(hunt.Process.Id, signal));
        var result = await hunt.Process.WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

        Assert.False(result.TimedOut, "deflake did not end within a minute of the signal");
        Assert.True(result.ExitCode == ExitCodes.Cancelled, $"exit code {result.ExitCode}\n{result.Error}\n{result.Output}");
        Assert.Contains("deflake: cancelled.", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.Error, StringComparison.Ordinal);
        await AssertNoTestProcessLeftAsync(hunt, TimeSpan.FromSeconds(10));
        Assert.False(Directory.Exists(hunt.WorkDirectory), $"the hunt's work folder {hunt.WorkDirectory} is still there");
    }

    [Fact]
    public async Task A_hunt_killed_outright_leaves_no_test_process_once_the_running_one_ends_and_the_next_deflake_clears_its_work_folder()
    {
        await using var hunt = await StartHuntAsync();

        Assert.Equal(0, Kill(hunt.Process.Id, SigKill));
        Assert.False((await hunt.Process.WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken)).TimedOut, "deflake did not die");

        // Nobody kills them now: the waiting one sees its standard input end and exits; the running one finishes its
        // run (a second or two on the sample) and exits.
        await AssertNoTestProcessLeftAsync(hunt, TimeSpan.FromSeconds(60));

        // Its work folder stays; the next deflake (or 'deflake gc') removes it. (The hunt has a temporary folder of its
        // own, so no deflake of another test run on this machine sweeps it first.)
        Assert.True(Directory.Exists(hunt.WorkDirectory), hunt.WorkDirectory);
        CommonOptions.RemoveAbandonedWorkDirectories(hunt.TempDirectory);
        Assert.False(Directory.Exists(hunt.WorkDirectory), hunt.WorkDirectory);
    }

    /// <summary>
    /// Starts <c>deflake hunt</c> on the sample with a cache folder of its own (its test processes inherit it, which is
    /// how they are found), and returns once its first run has finished and its test processes are there.
    /// </summary>
    private static async Task<Hunt> StartHuntAsync()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "signals are sent with kill(2) and processes found in /proc: Linux only");
        var assembly = await SampleCollection.BuildAsync();
        var cache = Path.Combine(Path.GetTempPath(), $"deflake-cancel-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(cache, "tmp"));
        var process = ProcessRunner.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "Deflake.Cli.dll"), "hunt", assembly, "--seed", "5"],
            new Dictionary<string, string?> { ["DEFLAKE_CACHE_DIR"] = cache, ["TMPDIR"] = Path.Combine(cache, "tmp") });
        var hunt = new Hunt(process, cache);
        try
        {
            // The first survey run ('baseline') has finished: the second runs, and a third process waits at its gate.
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (!process.OutputSoFar.Contains(" passed ", StringComparison.Ordinal) || TestProcesses(cache).Count < 2)
            {
                Assert.True(DateTime.UtcNow < deadline, $"the hunt did not get going within 2 minutes\n{process.ErrorSoFar}\n{process.OutputSoFar}");
                Assert.False(process.HasExited, $"the hunt ended early\n{process.ErrorSoFar}\n{process.OutputSoFar}");
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }

            return hunt;
        }
        catch
        {
            await hunt.DisposeAsync();
            throw;
        }
    }

    private static async Task AssertNoTestProcessLeftAsync(Hunt hunt, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        List<string> left;
        while ((left = TestProcesses(hunt.Cache)).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        Assert.True(left.Count == 0, $"test processes left after {within.TotalSeconds:0} s:\n{string.Join('\n', left)}");
    }

    /// <summary>The command lines of the live processes that run the sample with this hunt's cache folder in their environment.</summary>
    private static List<string> TestProcesses(string cache)
    {
        var marker = Encoding.UTF8.GetBytes($"DEFLAKE_CACHE_DIR={cache}\0");
        var found = new List<string>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out _))
            {
                continue;
            }

            try
            {
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                if (commandLine.Contains("Shop.FlakyTests.dll", StringComparison.Ordinal)
                    && File.ReadAllBytes(Path.Combine(directory, "environ")).AsSpan().IndexOf(marker) >= 0
                    && !File.ReadAllText(Path.Combine(directory, "stat")).Split(' ')[2].Equals("Z", StringComparison.Ordinal))
                {
                    found.Add($"{Path.GetFileName(directory)}: {commandLine}");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or not ours to read.
            }
        }

        return found;
    }

    /// <summary>Whether this process ignores the signal (SigIgn in /proc/self/status: a hex mask, bit n-1 for signal n).</summary>
    private static bool IgnoresSignal(int signal)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        var mask = ulong.Parse(line["SigIgn:".Length..].Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
        return (mask & (1UL << (signal - 1))) != 0;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>A running deflake process and its cache folder (deleted with it, after any test process left is killed).</summary>
    private sealed class Hunt(StartedProcess process, string cache) : IAsyncDisposable
    {
        public StartedProcess Process { get; } = process;

        public string Cache { get; } = cache;

        /// <summary>The hunt's own temporary folder (its TMPDIR), inside its cache folder.</summary>
        public string TempDirectory { get; } = Path.Combine(cache, "tmp");

        /// <summary>Where deflake keeps a hunt's order files and results (CommonOptions.WorkDirectory, seed 5).</summary>
        public string WorkDirectory => Path.Combine(TempDirectory, $"deflake-hunt-{Process.Id}-5");

        public async ValueTask DisposeAsync()
        {
            await Process.DisposeAsync();
            foreach (var left in TestProcesses(Cache))
            {
                try
                {
                    System.Diagnostics.Process.GetProcessById(int.Parse(left.AsSpan(0, left.IndexOf(':', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture)).Kill();
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
                {
                    // Already gone.
                }
            }

            try
            {
                Directory.Delete(Cache, recursive: true);
            }
            catch (IOException)
            {
                // A test process still writing: the temp folder is cleaned by the system.
            }
        }
    }
}
