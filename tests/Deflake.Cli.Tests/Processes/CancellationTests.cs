using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Deflake.Cli.Commands;

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
        await using var hunt = await StartHuntAsync();

        Assert.Equal(0, Kill(hunt.Process.Id, signal));
        var exited = await hunt.WaitAsync(TimeSpan.FromMinutes(1));

        Assert.True(exited, "deflake did not end within a minute of the signal");
        Assert.True(hunt.Process.ExitCode == ExitCodes.Cancelled, $"exit code {hunt.Process.ExitCode}\n{hunt.Error}\n{hunt.Output}");
        Assert.Contains("deflake: cancelled.", hunt.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", hunt.Error, StringComparison.Ordinal);
        await AssertNoTestProcessLeftAsync(hunt, TimeSpan.FromSeconds(10));
        Assert.False(Directory.Exists(hunt.WorkDirectory), $"the hunt's work folder {hunt.WorkDirectory} is still there");
    }

    [Fact]
    public async Task A_hunt_killed_outright_leaves_no_test_process_once_the_running_one_ends_and_the_next_deflake_clears_its_work_folder()
    {
        await using var hunt = await StartHuntAsync();

        Assert.Equal(0, Kill(hunt.Process.Id, SigKill));
        Assert.True(await hunt.WaitAsync(TimeSpan.FromMinutes(1)), "deflake did not die");

        // Nobody kills them now: the waiting one sees its standard input end and exits; the running one finishes its
        // run (a second or two on the sample) and exits.
        await AssertNoTestProcessLeftAsync(hunt, TimeSpan.FromSeconds(60));

        // Its work folder stays; the next deflake (or 'deflake gc') removes it.
        Assert.True(Directory.Exists(hunt.WorkDirectory), hunt.WorkDirectory);
        Assert.True(CommonOptions.RemoveAbandonedWorkDirectories() >= 1);
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
        Directory.CreateDirectory(cache);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "Deflake.Cli.dll"), "hunt", assembly, "--seed", "5" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DEFLAKE_CACHE_DIR"] = cache;
        start.Environment["NO_COLOR"] = "1";
        var hunt = new Hunt(Process.Start(start)!, cache);
        try
        {
            // The first survey run ('baseline') has finished: the second runs, and a third process waits at its gate.
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (!hunt.Output.Contains(" passed ", StringComparison.Ordinal) || TestProcesses(cache).Count < 2)
            {
                Assert.True(DateTime.UtcNow < deadline, $"the hunt did not get going within 2 minutes\n{hunt.Error}\n{hunt.Output}");
                if (hunt.Process.HasExited)
                {
                    Assert.Fail($"the hunt ended early with exit code {hunt.Process.ExitCode}\n{hunt.Error}\n{hunt.Output}");
                }

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

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>A running deflake process, its output as it comes, and its cache folder (deleted with it).</summary>
    private sealed class Hunt : IAsyncDisposable
    {
        private readonly StringBuilder _output = new();
        private readonly StringBuilder _error = new();

        public Hunt(Process process, string cache)
        {
            Process = process;
            Cache = cache;
            process.OutputDataReceived += (_, e) => Append(_output, e.Data);
            process.ErrorDataReceived += (_, e) => Append(_error, e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Cache { get; }

        /// <summary>Where deflake keeps a hunt's order files and results (CommonOptions.WorkDirectory, seed 5).</summary>
        public string WorkDirectory => Path.Combine(Path.GetTempPath(), $"deflake-hunt-{Process.Id}-5");

        public string Output => Read(_output);

        public string Error => Read(_error);

        /// <summary>Waits for it to exit and for its output to drain; false when it is still running after <paramref name="timeout"/>.</summary>
        public async Task<bool> WaitAsync(TimeSpan timeout)
        {
            using var timeoutSource = new CancellationTokenSource(timeout);
            try
            {
                await Process.WaitForExitAsync(timeoutSource.Token);
            }
            catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested)
            {
                return false;
            }

            Process.WaitForExit();
            return true;
        }

        public async ValueTask DisposeAsync()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                await Process.WaitForExitAsync();
            }

            Process.Dispose();
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

        private static void Append(StringBuilder buffer, string? line)
        {
            if (line is not null)
            {
                lock (buffer)
                {
                    buffer.AppendLine(line);
                }
            }
        }

        private static string Read(StringBuilder buffer)
        {
            lock (buffer)
            {
                return buffer.ToString();
            }
        }
    }
}
