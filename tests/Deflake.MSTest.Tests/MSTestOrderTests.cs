using System.Globalization;
using Deflake.Frameworks;
using Deflake.Testing;

namespace Deflake.MSTest.Tests;

/// <summary>
/// What controls MSTest's order, measured on tests/Suites/MSTestOrderSuite (a Microsoft.Testing.Platform executable):
/// the dependency chain <see cref="MSTestOrder"/> writes is followed exactly, across classes, and a filtered rerun with
/// the chain of its own tests keeps the relative order of the full run.
/// </summary>
[TestClass]
public sealed class MSTestOrderTests
{
    private static readonly string[] Tests =
        [.. from c in new[] { "Alpha", "Beta", "Gamma" } from m in new[] { "One", "Two", "Three" } select $"MSTestOrderSuite.{c}.{m}"];

    public TestContext TestContext { get; set; } = null!;

    private static string Suite
    {
        get
        {
            // tests/Deflake.MSTest.Tests/bin/<Configuration>/net10.0 → tests/Suites/MSTestOrderSuite/bin/<Configuration>/net10.0
            var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var configuration = output.Parent!.Name;
            var tests = output.Parent.Parent!.Parent!.Parent!.FullName;
            return Path.Combine(tests, "Suites", "MSTestOrderSuite", "bin", configuration, output.Name, "MSTestOrderSuite.dll");
        }
    }

    private async Task<IReadOnlyList<string>> RunAsync(IReadOnlyList<string> ordered, string? filter = null)
    {
        var config = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(config, MSTestOrder.Configuration(ordered), TestContext.CancellationToken);
            string[] arguments = filter is null ? [Suite, "--config-file", config] : [Suite, "--config-file", config, "--filter", filter];
            var run = await SuiteSupport.RunChildAsync(arguments, new Dictionary<string, string>(StringComparer.Ordinal), TestContext.CancellationToken);
            Assert.AreEqual(0, run.ExitCode, run.Output);
            return run.Order;
        }
        finally
        {
            File.Delete(config);
        }
    }

    [TestMethod]
    public async Task Without_a_chain_MSTest_runs_the_declaration_order_class_by_class()
    {
        var run = await SuiteSupport.RunChildAsync([Suite], new Dictionary<string, string>(StringComparer.Ordinal), TestContext.CancellationToken);

        CollectionAssert.AreEqual(Tests, run.Order.ToArray(), run.Output);
    }

    [TestMethod]
    public async Task A_seeded_order_runs_exactly_and_a_filtered_rerun_keeps_its_relative_order()
    {
        var seven = TestOrderSetting.Random(7);
        var subset = Tests.Where(t => t.Contains(".Alpha.", StringComparison.Ordinal) || t.EndsWith("Gamma.Two", StringComparison.Ordinal)).ToArray();

        var full = await RunAsync(MSTestOrder.Order(seven, Tests));
        var filtered = await RunAsync(MSTestOrder.Order(seven, subset), "FullyQualifiedName~Alpha|FullyQualifiedName~Gamma.Two");

        CollectionAssert.AreEqual(MSTestOrder.Order(seven, Tests).ToArray(), full.ToArray());
        CollectionAssert.AreEqual(full.Where(subset.Contains).ToArray(), filtered.ToArray());
        // A seeded order mixes classes: MSTest's own order never does.
        CollectionAssert.AreNotEqual(Tests, full.ToArray());
    }

    [TestMethod]
    public async Task Two_seeds_give_two_orders()
    {
        var seven = await RunAsync(MSTestOrder.Order(TestOrderSetting.Random(7), Tests));
        var eight = await RunAsync(MSTestOrder.Order(TestOrderSetting.Random(8), Tests));

        CollectionAssert.AreNotEqual(seven.ToArray(), eight.ToArray());
        CollectionAssert.AreEquivalent(seven.ToArray(), eight.ToArray());
    }

    [TestMethod]
    public async Task A_test_DEFLAKE_CHAOS_TESTS_names_gets_its_chaos_through_DeflakeTestClass_and_the_process_reports_activity()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "identities\tMSTestOrderSuite.Beta.Two\n", TestContext.CancellationToken);

            var run = await SuiteSupport.RunChildAsync([Suite, "--filter", "FullyQualifiedName~Beta"], new Dictionary<string, string>(StringComparer.Ordinal) { ["DEFLAKE_CHAOS_TESTS"] = file }, TestContext.CancellationToken);

            Assert.AreEqual(0, run.ExitCode, run.Output);
            Assert.AreEqual("identities", run.Chaos["MSTestOrderSuite.Beta.Two"]);
            Assert.AreEqual("none", run.Chaos["MSTestOrderSuite.Beta.One"]);
            foreach (var line in new[] { "process", "pool\tnone", "rent\tnone", "pool\tidentities", "rent\tidentities" })
            {
                CollectionAssert.Contains(run.Activity.ToArray(), line);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    public void A_file_order_keeps_exactly_the_listed_tests_in_the_listed_order()
    {
        var file = TestOrderSetting.List(["MSTestOrderSuite.Gamma.Two", "MSTestOrderSuite.Alpha.Three", "MSTestOrderSuite.Gamma.One", "No.Such.Test"]);

        CollectionAssert.AreEqual(new[] { "MSTestOrderSuite.Gamma.Two", "MSTestOrderSuite.Alpha.Three", "MSTestOrderSuite.Gamma.One" }, MSTestOrder.Order(file, Tests).ToArray());
        Assert.AreEqual(string.Join(",", Tests.Reverse()), string.Join(",", MSTestOrder.Order(TestOrderSetting.Reverse(), Tests)));
        Assert.AreEqual(8, MSTestOrder.Configuration(Tests).Split("\"dependsOn\"").Length - 1, string.Create(CultureInfo.InvariantCulture, $"one dependency per test after the first"));
    }
}
