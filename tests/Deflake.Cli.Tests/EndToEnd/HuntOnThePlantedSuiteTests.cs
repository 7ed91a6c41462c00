using System.Text.Json;
using Deflake.Cli.Tests.Commands;
using Deflake.Cli.Tests.Reporting;

namespace Deflake.Cli.Tests.EndToEnd;

/// <summary>
/// Runs <c>deflake hunt --modes all</c> on tests/Suites/PlantedSuite, for real, with three seeds: every planted class
/// is found with its cause and its polluters, partner or state-setter, no correct test is flagged, and every printed
/// <c>reproduce</c> command, run from another folder, runs exactly the tests it names and fails as the finding says
/// (issue 15, "Must show").
/// </summary>
[Collection(SampleCollection.Name)] // builds Deflake.Xunit too: not at the same time as the sample
[Trait("Category", "EndToEnd")]
public sealed class HuntOnThePlantedSuiteTests
{
    private const string Ns = "PlantedSuite.";
    private const string Lottery = Ns + "LotteryTests.The_lucky_draw_wins";

    /// <summary>The planted tests: cause, role, and who is involved (polluters, the partner, or the state-setter).</summary>
    private static readonly Dictionary<string, (string Cause, string? Role, string[] Involved)> Planted = new(StringComparer.Ordinal)
    {
        [Ns + "AuditTests.The_audit_row_of_an_order_is_read_back_by_id"] = ("identity-alignment", null, []),
        [Ns + "CustomerListTests.Customers_are_listed_in_sign_up_order"] = ("row-order", null, []),
        [Ns + "SharedDatabaseTests.A_new_shop_has_no_customers"] = ("test-order", "polluted", [Ns + "SharedDatabaseTests.A_customer_can_sign_up"]),
        [Ns + "LedgerTests.A_new_ledger_reports_no_entries"] = ("test-order", "polluted", [Ns + "LedgerTests.Posting_an_entry_writes_the_ledger", Ns + "RefundLedgerTests.Refunding_writes_the_ledger"]),
        [Ns + "CatalogCacheTests.The_catalog_cache_is_warm"] = ("test-order", "brittle", [Ns + "CatalogWarmUpTests.Warming_the_catalog_succeeds"]),
        [Ns + "SandboxChargeTests.Charging_lowers_the_balance"] = ("parallel-collision", null, [Ns + "SandboxDepositTests.Depositing_raises_the_balance"]),
        [Ns + "SandboxDepositTests.Depositing_raises_the_balance"] = ("parallel-collision", null, [Ns + "SandboxChargeTests.Charging_lowers_the_balance"]),
        [Ns + "PriceTextTests.A_price_is_parsed_from_text"] = ("culture", null, []),
        [Ns + "TimeStampTests.A_shift_starts_on_the_quarter_hour_it_was_booked"] = ("time-zone", null, []),
        [Lottery] = ("nondeterministic", null, []),
    };

    private static readonly Lazy<Task<string>> Build = new(async () =>
    {
        var build = System.Diagnostics.Process.Start("dotnet", ["build", Repository.Path("tests/Suites/PlantedSuite"), "-v", "q", "-nologo"])!;
        await build.WaitForExitAsync();
        Assert.True(build.ExitCode == 0, $"dotnet build tests/Suites/PlantedSuite failed with exit code {build.ExitCode}");
        return Repository.Path("tests/Suites/PlantedSuite/bin/Debug/net10.0/PlantedSuite.dll");
    });

    /// <summary>
    /// The seeds hunted: <c>DEFLAKE_E2E_SEEDS</c> (comma-separated; <c>101,202,303</c> is what the issue asks for and what
    /// a release check runs), else seed 101 alone — one hunt with every mode takes 1.5–3 minutes on 2 cores, and the
    /// test command must stay well under 15 minutes.
    /// </summary>
    private static int[] Seeds()
        => (Environment.GetEnvironmentVariable("DEFLAKE_E2E_SEEDS") is { Length: > 0 } seeds ? seeds : "101")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture))
            .ToArray();

    [Fact]
    public async Task Seeded_hunts_find_every_planted_class_flag_no_correct_test_and_print_replays_that_fail_from_anywhere()
    {
        var assembly = await Build.Value;
        // Several seeds' hunts run at the same time (each its own work folder and processes).
        await Task.WhenAll(Seeds().Select(seed => HuntAsync(assembly, seed)));
    }

    private static async Task HuntAsync(string assembly, int seed)
    {
        var folder = Directory.CreateTempSubdirectory($"deflake-planted-{seed}-").FullName;
        try
        {
            var json = Path.Combine(folder, "hunt.json");
            var (code, output, error) = await CommandLineTests.RunAsync("hunt", assembly, "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--modes", "all", "--json", json);
            var context = $"seed {seed}, exit code {code}\n{error}\n{output}";
            Assert.True(code == ExitCodes.Findings, context);
            var root = JsonDocument.Parse(await File.ReadAllTextAsync(json)).RootElement;
            JsonContract.AssertValid(root);
            Assert.True(root.GetProperty("alwaysFailing").GetArrayLength() == 0, context);
            var findings = root.GetProperty("findings").EnumerateArray().ToDictionary(f => f.GetProperty("test").GetString()!, StringComparer.Ordinal);

            // No correct test is flagged; every planted one is found, but the random one may be missed (it passes
            // all 11 survey runs in 0.7^11 ≈ 2% of hunts: docs/hunt.md).
            Assert.True(findings.Keys.All(Planted.ContainsKey), $"flagged a correct test: {string.Join(", ", findings.Keys.Except(Planted.Keys))}\n{context}");
            Assert.True(Planted.Keys.Where(t => t != Lottery).All(findings.ContainsKey), $"missed: {string.Join(", ", Planted.Keys.Except(findings.Keys))}\n{context}");

            foreach (var (test, finding) in findings)
            {
                var (cause, role, involved) = Planted[test];
                if (test == Lottery && finding.GetProperty("cause").GetString() is "identity-alignment" or "row-order" or "culture" or "time-zone")
                {
                    // The gap left (docs/hunt.md, "Chance is not blamed"): a chaos cause needs 3 failures under the
                    // mode with one seed, so the random test, having passed every run without chaos, fails its survey
                    // run under a mode and the two runs after it in about 0.8% of hunts with every mode (2.7% before).
                    // It still never gets a polluter or partner.
                    Assert.Equal(0, finding.GetProperty("polluters").GetArrayLength());
                    Assert.Equal(JsonValueKind.Null, finding.GetProperty("polluter").ValueKind);
                    continue;
                }

                Assert.True(cause == finding.GetProperty("cause").GetString(), $"{test}: {finding}\n{context}");
                Assert.Equal(role, finding.GetProperty("role").GetString());
                var named = role == "brittle" ? finding.GetProperty("stateSetters").EnumerateArray().Select(p => p.GetString()!).Take(1)
                    : cause == "parallel-collision" ? [finding.GetProperty("polluter").GetString()!]
                    : finding.GetProperty("polluters").EnumerateArray().Select(p => p.GetString()!);
                Assert.True(involved.Order(StringComparer.Ordinal).SequenceEqual(named.Order(StringComparer.Ordinal)), $"{test}: {finding}\n{context}");
                await ReplayAsync(test, cause, finding.GetProperty("reproduce").GetString()!, seed);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Runs a printed command from a folder of its own: exactly the tests it names run, and the finding's test fails.</summary>
    private static async Task ReplayAsync(string test, string cause, string command, int seed)
    {
        var elsewhere = Directory.CreateTempSubdirectory("deflake-replay-").FullName;
        try
        {
            // A test failing at random fails its replay now and then: up to 20 tries (all pass in 0.7^20 ≈ 0.08%).
            for (var attempt = 1; ; attempt++)
            {
                var replay = await Replay.RunAsync(command, elsewhere);
                var context = $"seed {seed}, {test} ({cause}), attempt {attempt}: {command}\n{replay.Output}";
                if (command.Contains("printf '%s\\n' ", StringComparison.Ordinal))
                {
                    Assert.True(Replay.NamedTests(command).Order(StringComparer.Ordinal).SequenceEqual(replay.Outcomes.Keys.Order(StringComparer.Ordinal)), context);
                }
                else
                {
                    Assert.True(replay.Outcomes.Count > 40, context); // a whole-suite run: every test
                }

                Assert.True(replay.Outcomes.ContainsKey(test), context);
                if (!replay.Outcomes[test])
                {
                    Assert.NotEqual(0, replay.ExitCode);
                    return;
                }

                Assert.True(cause == "nondeterministic" && attempt < 20, $"the replay passed: {context}");
            }
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
        }
    }
}
