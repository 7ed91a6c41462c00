using System.Text.Json;
using Deflake.Cli.Tests.Commands;
using Deflake.Cli.Tests.Reporting;

namespace Deflake.Cli.Tests.EndToEnd;

/// <summary>
/// Runs <c>deflake hunt</c> on samples/Shop.FlakyTests, for real: builds it, runs it in processes, and checks that
/// every planted flaky test is found with the right cause, the polluter is named, and no correct test is flagged.
/// </summary>
[Collection(SampleCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class HuntOnTheFlakySampleTests
{
    // The two planted chaos tests (seeds 000 and 001) only fail under chaos modes, which the engines implement.
    private static bool ChaosModesImplemented => true;

    private const string Sample = "Shop.FlakyTests.";
    private const string IdMixUp = Sample + "AuditTests.The_audit_row_of_an_order_can_be_read_back";
    private const string UnorderedRead = Sample + "CustomerListTests.Customers_are_listed_in_the_order_they_signed_up";
    private const string DataBleedVictim = Sample + "SharedDatabaseTests.A_new_shop_has_no_customers";
    private const string DataBleedPolluter = Sample + "SharedDatabaseTests.A_customer_can_sign_up";
    private const string SalesReport = Sample + "SalesReportTests.The_sales_report_offers_the_three_standard_periods";
    private const string StockReport = Sample + "StockReportTests.The_stock_report_offers_the_three_standard_periods";
    private const string Charge = Sample + "ChargeTests.Charging_the_sandbox_account_lowers_its_balance";
    private const string Refund = Sample + "RefundTests.Refunding_to_the_sandbox_account_raises_its_balance";

    private static readonly string[] Planted = [IdMixUp, UnorderedRead, DataBleedVictim, SalesReport, StockReport, Charge, Refund];

    [Fact]
    public async Task Hunt_finds_every_planted_flaky_test_with_its_cause_and_flags_no_correct_test()
    {
        var json = Path.Combine(Path.GetTempPath(), $"deflake-e2e-{Guid.NewGuid():N}.json");
        try
        {
            var (code, output, error) = await CommandLineTests.RunAsync("hunt", Repository.Path("samples/Shop.FlakyTests"), "--seed", "20251121", "--json", json);

            Assert.True(code == ExitCodes.Findings, $"exit code {code}\n{error}\n{output}");
            var root = JsonDocument.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken)).RootElement;
            JsonContract.AssertValid(root);
            Assert.Equal(20251121, root.GetProperty("seed").GetInt32());
            var findings = root.GetProperty("findings").EnumerateArray().ToDictionary(
                f => f.GetProperty("test").GetString()!,
                f => (Cause: f.GetProperty("cause").GetString(), Polluter: f.GetProperty("polluter").GetString(), Reproduce: f.GetProperty("reproduce").GetString()!));

            // No correct test flagged, nothing failing every time.
            Assert.Empty(findings.Keys.Except(Planted));
            Assert.Empty(root.GetProperty("alwaysFailing").EnumerateArray());

            // 002: data bleed through a shared database: order-dependent, polluter named, replay of the two.
            Assert.Equal(("test-order", DataBleedPolluter), (findings[DataBleedVictim].Cause, findings[DataBleedVictim].Polluter));
            Assert.Contains("DEFLAKE_ORDER=", findings[DataBleedVictim].Reproduce, StringComparison.Ordinal);

            // 003: one-time setup racing in parallel; 004: two tests on one shared account. Each names its partner.
            Assert.Equal(("parallel-collision", StockReport), (findings[SalesReport].Cause, findings[SalesReport].Polluter));
            Assert.Equal(("parallel-collision", SalesReport), (findings[StockReport].Cause, findings[StockReport].Polluter));
            Assert.Equal(("parallel-collision", Refund), (findings[Charge].Cause, findings[Charge].Polluter));
            Assert.Equal(("parallel-collision", Charge), (findings[Refund].Cause, findings[Refund].Polluter));

            if (ChaosModesImplemented)
            {
                // 000: ids of two tables mixed up; 001: rows read without ORDER BY.
                Assert.Equal("identity-alignment", findings[IdMixUp].Cause);
                Assert.Contains("DEFLAKE_CHAOS=identities", findings[IdMixUp].Reproduce, StringComparison.Ordinal);
                Assert.Equal("row-order", findings[UnorderedRead].Cause);
                Assert.Contains("DEFLAKE_CHAOS=rows", findings[UnorderedRead].Reproduce, StringComparison.Ordinal);
            }
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Fact]
    public async Task A_failed_tests_database_is_kept_and_its_output_says_how_to_connect()
    {
        var assembly = await SampleCollection.BuildAsync();
        var cache = Directory.CreateTempSubdirectory("deflake-keep-").FullName;
        try
        {
            var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add(assembly);
            foreach (var arg in new[] { "-parallel", "none", "-method", IdMixUp })
            {
                info.ArgumentList.Add(arg);
            }

            info.Environment["DEFLAKE_KEEP_FAILED"] = "1";
            info.Environment["DEFLAKE_CHAOS"] = "identities";
            info.Environment["DEFLAKE_SEED"] = "7";
            info.Environment["DEFLAKE_CACHE_DIR"] = cache;
            using var run = System.Diagnostics.Process.Start(info)!;
            var output = await run.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            await run.WaitForExitAsync(TestContext.Current.CancellationToken);

            Assert.NotEqual(0, run.ExitCode); // the planted test fails under identities
            var kept = Directory.GetFiles(Path.Combine(cache, "sqlite", "kept"), "deflake_*.db");
            var file = Assert.Single(kept);
            Assert.Contains($"Deflake kept this test's sqlite database", output, StringComparison.Ordinal);
            Assert.Contains(file, output, StringComparison.Ordinal);
            Assert.Contains("seed 7", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }
}
