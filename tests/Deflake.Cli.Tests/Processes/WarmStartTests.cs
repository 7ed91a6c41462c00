using System.Xml.Linq;
using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Processes;

/// <summary>
/// Warm start on the real sample (samples/Shop.FlakyTests): a test process started ahead of its run sets up nothing
/// until its gate opens, leaves untouched when its deflake goes away, and runs exactly what a process started the
/// plain way runs.
/// </summary>
[Collection(SampleCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class WarmStartTests
{
    private const string Sample = "Shop.FlakyTests.";
    private const string EmptyCart = Sample + "CartTests.A_new_customer_has_an_empty_cart";
    private const string BySku = Sample + "ProductTests.Products_are_listed_by_sku";
    private const string DataBleedVictim = Sample + "SharedDatabaseTests.A_new_shop_has_no_customers";
    private const string DataBleedPolluter = Sample + "SharedDatabaseTests.A_customer_can_sign_up";
    private const string Charge = Sample + "ChargeTests.Charging_the_sandbox_account_lowers_its_balance";
    private const string Refund = Sample + "RefundTests.Refunding_to_the_sandbox_account_raises_its_balance";

    [Fact]
    public async Task A_process_started_ahead_sets_up_nothing_until_its_gate_opens_then_runs_what_it_is_handed()
    {
        var (cache, work, xml) = TempFolders();
        try
        {
            var process = await StartWaitingAsync(cache, xml);
            await using (process)
            {
                await Task.Delay(300, TestContext.Current.CancellationToken); // time to do what it must not

                Assert.False(process.HasExited, process.ErrorSoFar);
                Assert.Empty(Directory.EnumerateFileSystemEntries(cache)); // no pool, no template: no fixture ran
                Assert.False(File.Exists(xml));

                var order = Path.Combine(work, "order.txt");
                await File.WriteAllLinesAsync(order, [EmptyCart, BySku], TestContext.Current.CancellationToken);
                await process.Input.WriteLineAsync($"DEFLAKE_ORDER={order}");
                await process.Input.WriteLineAsync("DEFLAKE_SEED=5");
                await process.Input.WriteLineAsync("go");
                process.Input.Close();
                var result = await process.WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);

                Assert.True(result.ExitCode == 0, result.Error + result.Output);
                Assert.Contains(DeflakeEnvironment.StartGatePassedLine, result.Error, StringComparison.Ordinal);
                Assert.Equal([EmptyCart, BySku], XunitV3Runner.ParseResults(XDocument.Load(xml)).Select(t => t.TestId));
                Assert.NotEmpty(Directory.EnumerateFiles(cache, "*.db", SearchOption.AllDirectories)); // the pool came after the gate
            }
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task A_process_whose_deflake_is_gone_exits_without_running_anything()
    {
        var (cache, work, xml) = TempFolders();
        try
        {
            var process = await StartWaitingAsync(cache, xml);
            await using (process)
            {
                await process.Input.WriteLineAsync("DEFLAKE_SEED=5");
                process.Input.Close(); // what the end of the deflake process does
                var result = await process.WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);

                Assert.Equal(3, result.ExitCode);
                Assert.Contains("the deflake process that started this test process is gone", result.Error, StringComparison.Ordinal);
                Assert.DoesNotContain(DeflakeEnvironment.StartGatePassedLine, result.Error, StringComparison.Ordinal);
                Assert.False(File.Exists(xml));
                Assert.Empty(Directory.EnumerateFileSystemEntries(cache));
            }
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task Runs_in_processes_started_ahead_match_runs_started_the_plain_way()
    {
        var assembly = await SampleCollection.BuildAsync();
        var warmWork = Directory.CreateTempSubdirectory("deflake-warm-").FullName;
        var coldWork = Directory.CreateTempSubdirectory("deflake-cold-").FullName;
        RunRequest[] requests =
        [
            new("reverse", RunOrderKind.Reverse, "none", 11, Parallel: false),
            new("replay", RunOrderKind.List, "none", 12, Parallel: false, [DataBleedPolluter, EmptyCart, DataBleedVictim]),
            new("pair in parallel", RunOrderKind.Default, "none", 11, Parallel: true, [Charge, Refund]),
        ];
        try
        {
            var warm = new XunitV3Runner(assembly, warmWork, TimeSpan.FromMinutes(2), warmStart: true);
            var cold = new XunitV3Runner(assembly, coldWork, TimeSpan.FromMinutes(2), warmStart: false);
            await using (warm)
            {
                await using (cold)
                {
                    var warmRuns = new List<RunResult>();
                    warm.ExpectNext(RunKinds.Either); // either kind may come: one of each waits
                    foreach (var request in requests)
                    {
                        warmRuns.Add(await warm.RunAsync(request, TestContext.Current.CancellationToken));
                    }

                    var coldRuns = new List<RunResult>();
                    foreach (var request in requests)
                    {
                        coldRuns.Add(await cold.RunAsync(request, TestContext.Current.CancellationToken));
                    }

                    // The 2nd (one at a time) and 3rd (parallel) runs went to processes started ahead.
                    Assert.Equal(2, warm.RunsStartedAhead);
                    Assert.Equal(0, cold.RunsStartedAhead);
                    for (var i = 0; i < requests.Length; i++)
                    {
                        Assert.Equal(Outcomes(coldRuns[i], requests[i].Parallel), Outcomes(warmRuns[i], requests[i].Parallel));
                        Assert.Equal(coldRuns[i].Reproduce, warmRuns[i].Reproduce);
                    }

                    Assert.Equal(26, warmRuns[0].Tests.Count);
                    // The list is also the filter; a class's tests run together, classes in the order of their last listed test.
                    Assert.Equal([EmptyCart, DataBleedPolluter, DataBleedVictim], warmRuns[1].Tests.Select(t => t.TestId));
                    Assert.True(warmRuns[1].FailedTest(DataBleedVictim)); // the planted data bleed, as the settings asked
                    Assert.True(warmRuns[2].FailedTest(Charge) && warmRuns[2].FailedTest(Refund)); // the planted collision: in parallel
                }
            }
        }
        finally
        {
            Directory.Delete(warmWork, recursive: true);
            Directory.Delete(coldWork, recursive: true);
        }
    }

    [Fact]
    public async Task The_first_run_can_start_ahead_and_no_process_waits_for_a_run_none_expects()
    {
        var assembly = await SampleCollection.BuildAsync();
        var work = Directory.CreateTempSubdirectory("deflake-warm-").FullName;
        try
        {
            var runner = new XunitV3Runner(assembly, work, TimeSpan.FromMinutes(2), warmStart: true);
            await using (runner)
            {
                runner.StartAhead(parallel: false, seed: 11);
                Assert.Single(runner.WaitingProcessIds);

                runner.ExpectNext(RunKinds.None);
                var first = await runner.RunAsync(new RunRequest("alone", RunOrderKind.List, "none", 11, Parallel: false, [EmptyCart]), TestContext.Current.CancellationToken);

                Assert.Equal(1, runner.RunsStartedAhead); // it went to the process started ahead
                Assert.True(first.PassedTest(EmptyCart));
                Assert.Contains(":11 -parallel none", first.Reproduce, StringComparison.Ordinal);
                Assert.Empty(runner.WaitingProcessIds); // none expected, none started

                runner.ExpectNext(RunKinds.Either);
                var second = await runner.RunAsync(new RunRequest("alone", RunOrderKind.List, "none", 11, Parallel: true, [BySku]), TestContext.Current.CancellationToken);

                Assert.Equal(1, runner.RunsStartedAhead); // nothing waited for it: started the plain way
                Assert.True(second.PassedTest(BySku));
                var waiting = runner.WaitingProcessIds;
                Assert.Equal(2, waiting.Count); // one of each kind

                await runner.DisposeAsync();

                Assert.Empty(runner.WaitingProcessIds);
                Assert.All(waiting, id => Assert.False(Deflake.Cli.Commands.CommonOptions.IsRunning(id), $"process {id} still runs"));
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Pass or fail per test; in a one-at-a-time run, in the order they ran.</summary>
    private static string[] Outcomes(RunResult run, bool parallel)
    {
        var outcomes = run.Tests.Select(t => $"{t.TestId}: {(t.Passed ? "passed" : "failed")}");
        return parallel ? [.. outcomes.Order(StringComparer.Ordinal)] : [.. outcomes];
    }

    private static (string Cache, string Work, string Xml) TempFolders()
    {
        var work = Directory.CreateTempSubdirectory("deflake-gate-work-").FullName;
        return (Directory.CreateTempSubdirectory("deflake-gate-cache-").FullName, work, Path.Combine(work, "run.xml"));
    }

    /// <summary>Starts the sample one test at a time with the gate, and returns once it says it waits (or exited).</summary>
    private static async Task<StartedProcess> StartWaitingAsync(string cache, string xml)
    {
        var assembly = await SampleCollection.BuildAsync();
        var process = ProcessRunner.Start("dotnet", [assembly, "-parallel", "none", "-noLogo", "-noColor", "-xml", xml], GateEnvironment(cache), withInput: true);
        try
        {
            await WaitForAsync(() => process.ErrorSoFar.Contains(DeflakeEnvironment.StartGateWaitingLine, StringComparison.Ordinal) || process.HasExited);
            return process;
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    private static Dictionary<string, string?> GateEnvironment(string cache) => new(StringComparer.Ordinal)
    {
        [DeflakeEnvironment.StartGate] = "stdin",
        [DeflakeEnvironment.CacheDirectory] = cache,
        [DeflakeEnvironment.Order] = null,
        [DeflakeEnvironment.Seed] = null,
        [DeflakeEnvironment.Chaos] = null,
        [DeflakeEnvironment.ChaosTests] = null,
    };

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(1));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}
