using System.Text.Json;
using Deflake.Cli.Tests.Commands;
using Deflake.Cli.Tests.Reporting;

namespace Deflake.Cli.Tests.EndToEnd;

/// <summary>
/// Runs <c>deflake hunt</c> on tests/Suites/OrderSuite, for real: a brittle test that passes only after its
/// state-setter, and a victim that either of two tests in other classes pollutes (issue 15, items 3 and 4).
/// </summary>
[Collection(SampleCollection.Name)] // builds Deflake.Xunit too: not at the same time as the sample
[Trait("Category", "EndToEnd")]
public sealed class HuntOnTheOrderSuiteTests
{
    [Fact]
    public async Task The_brittle_test_names_its_state_setter_and_the_victim_of_two_polluters_names_both()
    {
        var folder = Directory.CreateTempSubdirectory("deflake-order-").FullName;
        try
        {
            var json = Path.Combine(folder, "hunt.json");
            var (code, output, error) = await CommandLineTests.RunAsync("hunt", Repository.Path("tests/Suites/OrderSuite"), "--seed", "3", "--modes", "none", "--json", json);

            Assert.True(code == ExitCodes.Findings, $"exit code {code}\n{error}\n{output}");
            var root = JsonDocument.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken)).RootElement;
            JsonContract.AssertValid(root);
            var findings = root.GetProperty("findings").EnumerateArray().ToDictionary(f => f.GetProperty("test").GetString()!);
            Assert.True(findings.Count == 2, output);

            var brittle = findings["OrderSuite.CatalogListTests.The_catalog_lists_the_seeded_products"];
            Assert.True(brittle.GetProperty("role").GetString() == "brittle", output);
            Assert.Equal(("test-order", "OrderSuite.CatalogSeedTests.Seeding_the_catalog_succeeds"), (brittle.GetProperty("cause").GetString(), brittle.GetProperty("stateSetter").GetString()));
            Assert.Equal(JsonValueKind.Null, brittle.GetProperty("polluter").ValueKind);

            var victim = findings["OrderSuite.LedgerReportTests.A_new_ledger_reports_no_entries"];
            Assert.True(victim.GetProperty("role").GetString() == "polluted", output);
            Assert.Equal(["OrderSuite.OrderTests.Placing_an_order_writes_the_ledger", "OrderSuite.RefundTests.Refunding_writes_the_ledger"],
                victim.GetProperty("polluters").EnumerateArray().Select(p => p.GetString()).Order(StringComparer.Ordinal));
            Assert.Contains("brittle", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
