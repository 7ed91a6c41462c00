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

    /// <summary>One hunt of the sample (seed 20251121), shared by the tests that read its reports.</summary>
    private static readonly Lazy<Task<SampleHunt>> Hunt = new(SampleHunt.RunAsync);

    internal sealed record SampleHunt(int Code, string Output, string Error, JsonElement Root, string Html)
    {
        /// <summary>The JUnit XML report (<c>--junit</c>).</summary>
        public string Junit { get; init; } = string.Empty;

        /// <summary>The Markdown summary (<c>--markdown</c>).</summary>
        public string Markdown { get; init; } = string.Empty;

        public static async Task<SampleHunt> RunAsync()
        {
            var folder = Directory.CreateTempSubdirectory("deflake-e2e-").FullName;
            try
            {
                var json = Path.Combine(folder, "hunt.json");
                var html = Path.Combine(folder, "hunt.html");
                var junit = Path.Combine(folder, "ci", "hunt.xml");
                var markdown = Path.Combine(folder, "hunt.md");
                var (code, output, error) = await CommandLineTests.RunAsync("hunt", Repository.Path("samples/Shop.FlakyTests"), "--seed", "20251121", "--json", json, "--html", html,
                    "--junit", junit, "--markdown", markdown);
                var root = File.Exists(json) ? JsonDocument.Parse(await File.ReadAllTextAsync(json)).RootElement.Clone() : default;
                return new SampleHunt(code, output, error, root, File.Exists(html) ? await File.ReadAllTextAsync(html) : string.Empty)
                {
                    Junit = File.Exists(junit) ? await File.ReadAllTextAsync(junit) : string.Empty,
                    Markdown = File.Exists(markdown) ? await File.ReadAllTextAsync(markdown) : string.Empty,
                };
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Hunt_finds_every_planted_flaky_test_with_its_cause_and_flags_no_correct_test()
    {
        var (code, output, error, root, _) = await Hunt.Value;

        Assert.True(code == ExitCodes.Findings, $"exit code {code}\n{error}\n{output}");
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
            // Every chaos run reached a database: both modes were checked, and the console says so.
            Assert.Equal(["identities", "rows"], root.GetProperty("checkedModes").EnumerateArray().Select(m => m.GetString()));
            Assert.Empty(root.GetProperty("uncheckedModes").EnumerateArray());
            Assert.All(root.GetProperty("runs").EnumerateArray().Where(r => r.GetProperty("mode").GetString() != "none"),
                r => Assert.True(r.GetProperty("chaosReached").GetBoolean()));
            Assert.Contains("Chaos modes checked: identities, rows.", output, StringComparison.Ordinal);
            Assert.DoesNotContain("nothing was checked", output, StringComparison.Ordinal);

            // 000: ids of two tables mixed up; 001: rows read without ORDER BY.
            Assert.Equal("identity-alignment", findings[IdMixUp].Cause);
            Assert.Contains("DEFLAKE_CHAOS=identities", findings[IdMixUp].Reproduce, StringComparison.Ordinal);
            Assert.Equal("row-order", findings[UnorderedRead].Cause);
            Assert.Contains("DEFLAKE_CHAOS=rows", findings[UnorderedRead].Reproduce, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Every_printed_reproduce_command_runs_exactly_its_tests_from_another_folder_and_fails_as_the_finding_says()
    {
        var (code, output, error, root, html) = await Hunt.Value;
        Assert.True(code == ExitCodes.Findings, $"exit code {code}\n{error}\n{output}");
        var findings = root.GetProperty("findings").EnumerateArray().ToArray();
        Assert.Equal(Planted.Length, findings.Length);
        var elsewhere = Directory.CreateTempSubdirectory("deflake-replay-").FullName;
        try
        {
            foreach (var finding in findings)
            {
                var test = finding.GetProperty("test").GetString()!;
                var cause = finding.GetProperty("cause").GetString()!;
                var reproduce = finding.GetProperty("reproduce").GetString()!;

                // The same command, unwrapped, in all three reports.
                Assert.Contains("  reproduce: " + reproduce + "\n", output, StringComparison.Ordinal);
                Assert.Contains(System.Net.WebUtility.HtmlEncode(reproduce), html, StringComparison.Ordinal);

                var named = Replay.NamedTests(reproduce);
                Assert.Contains(test, named);
                var run = await Replay.RunAsync(reproduce, elsewhere);

                // Exactly the tests it names ran, in the order it names them when one at a time.
                Assert.Equal(named.Order(StringComparer.Ordinal), run.Outcomes.Keys.Order(StringComparer.Ordinal));
                if (reproduce.Contains("-parallel none", StringComparison.Ordinal))
                {
                    Assert.Equal(named, run.Started);
                }

                Assert.True(run.Outcomes[test] == false, $"{test} ({cause}) passed in its replay: {reproduce}\n{run.Output}");
                if (cause == "test-order")
                {
                    // Without the polluter the victim passes: the order is what breaks it.
                    var polluter = finding.GetProperty("polluter").GetString()!;
                    var withoutPolluter = Replay.Without(reproduce, polluter);
                    Assert.DoesNotContain(polluter, withoutPolluter, StringComparison.Ordinal);
                    var clean = await Replay.RunAsync(withoutPolluter, elsewhere);
                    Assert.Equal([test], clean.Outcomes.Keys);
                    Assert.True(clean.Outcomes[test], $"{test} failed without {polluter} before it: {withoutPolluter}\n{clean.Output}");
                }
            }
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
        }
    }

    [Fact]
    public async Task An_order_file_that_cannot_be_read_fails_the_test_process_with_a_one_line_error()
    {
        var assembly = await SampleCollection.BuildAsync();
        var elsewhere = Directory.CreateTempSubdirectory("deflake-replay-").FullName;
        try
        {
            var run = await Replay.RunAsync($"DEFLAKE_ORDER=no-such-file.txt dotnet {assembly} -parallel none -method {DataBleedVictim}", elsewhere);

            Assert.NotEqual(0, run.ExitCode);
            Assert.Empty(run.Outcomes);
            var line = Assert.Single(run.Output.Split('\n'), l => l.Contains("DEFLAKE_ORDER", StringComparison.Ordinal));
            Assert.Contains("DEFLAKE_ORDER: 'no-such-file.txt' is neither 'random' nor 'reverse' nor a readable file of test ids", line, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
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

    [Fact]
    public async Task The_junit_report_has_one_failing_case_per_finding_with_its_cause_and_reproduce_command_and_the_markdown_summary_lists_them()
    {
        var hunt = await Hunt.Value;
        var findings = hunt.Root.GetProperty("findings").EnumerateArray().ToArray();

        var suite = System.Xml.Linq.XDocument.Parse(hunt.Junit).Root!.Element("testsuite")!;
        var cases = suite.Elements("testcase").ToArray();
        Assert.Equal(findings.Length, cases.Length);
        Assert.Equal(findings.Length, (int)suite.Attribute("failures")!);
        Assert.Equal("20251121", suite.Element("properties")!.Elements("property").Single(p => (string?)p.Attribute("name") == "seed").Attribute("value")!.Value);
        foreach (var finding in findings)
        {
            var test = finding.GetProperty("test").GetString()!;
            var match = Assert.Single(cases, c => $"{c.Attribute("classname")!.Value}.{c.Attribute("name")!.Value}" == test);
            var failure = match.Element("failure")!;
            Assert.Equal(finding.GetProperty("cause").GetString(), failure.Attribute("type")!.Value);
            Assert.Contains("Reproduce: " + finding.GetProperty("reproduce").GetString(), failure.Value, StringComparison.Ordinal);
            Assert.Contains(finding.GetProperty("reproduce").GetString()!, hunt.Markdown, StringComparison.Ordinal);
            Assert.Contains($"| `{test}` | {finding.GetProperty("cause").GetString()} |", hunt.Markdown, StringComparison.Ordinal);
        }
    }
}
