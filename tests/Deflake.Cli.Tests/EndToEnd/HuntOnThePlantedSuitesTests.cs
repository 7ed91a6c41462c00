using System.Collections.Concurrent;
using System.Text.Json;
using Deflake.Cli.Tests.Commands;
using Deflake.Cli.Tests.Reporting;

namespace Deflake.Cli.Tests.EndToEnd;

/// <summary>
/// Runs <c>deflake hunt</c> for real on the planted xUnit v2, NUnit and MSTest suites (tests/Suites/*Suite): each has an
/// order-dependent pair through static state, an identity-alignment and a row-order test on databases reached through
/// <c>TestDatabase.Current</c> (no base class), a parallel collision, and correct tests (issue 16).
/// </summary>
public abstract class PlantedSuiteHuntTests(string suite, bool testingPlatform)
{
    private static readonly ConcurrentDictionary<string, Lazy<Task<Hunt>>> Hunts = new(StringComparer.Ordinal);

    private sealed record Hunt(int Code, string Output, string Error, JsonElement Root);

    private string Victim => $"{suite}.RegistryTests.A_new_registry_is_empty";

    private string Polluter => $"{suite}.PluginTests.Registering_a_plugin_adds_it";

    private string IdMixUp => $"{suite}.AuditTests.The_audit_row_of_an_order_can_be_read_back";

    private string UnorderedRead => $"{suite}.CustomerListTests.Customers_are_listed_in_the_order_they_signed_up";

    private string Charge => $"{suite}.ChargeTests.Charging_the_sandbox_account_lowers_its_balance";

    private string Refund => $"{suite}.RefundTests.Refunding_to_the_sandbox_account_raises_its_balance";

    /// <summary>One hunt of the suite (seed 7), shared by its tests.</summary>
    private Task<Hunt> HuntAsync() => Hunts.GetOrAdd(suite, s => new Lazy<Task<Hunt>>(async () =>
    {
        var folder = Directory.CreateTempSubdirectory("deflake-suite-").FullName;
        try
        {
            var json = Path.Combine(folder, "hunt.json");
            var (code, output, error) = await CommandLineTests.RunAsync("hunt", Repository.Path($"tests/Suites/{s}"), "--seed", "7", "--json", json);
            var root = File.Exists(json) ? JsonDocument.Parse(await File.ReadAllTextAsync(json)).RootElement.Clone() : default;
            return new Hunt(code, output, error, root);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    })).Value;

    [Fact]
    public async Task Hunt_finds_every_planted_flaky_test_with_its_cause_and_partner_and_flags_no_correct_test()
    {
        var (code, output, error, root) = await HuntAsync();

        Assert.True(code == ExitCodes.Findings, $"exit code {code}\n{error}\n{output}");
        JsonContract.AssertValid(root);
        var findings = root.GetProperty("findings").EnumerateArray().ToDictionary(
            f => f.GetProperty("test").GetString()!,
            f => (Cause: f.GetProperty("cause").GetString(), Polluter: f.GetProperty("polluter").GetString()));

        Assert.True(findings.Count == 5, output);
        Assert.Empty(root.GetProperty("alwaysFailing").EnumerateArray());
        Assert.Equal(("test-order", Polluter), findings[Victim]);
        Assert.Equal(("identity-alignment", null), findings[IdMixUp]);
        Assert.Equal(("row-order", null), findings[UnorderedRead]);
        Assert.Equal(("parallel-collision", Refund), findings[Charge]);
        Assert.Equal(("parallel-collision", Charge), findings[Refund]);

        // Per-test chaos reached the databases rented through TestDatabase.Current.
        Assert.Equal(["identities", "rows"], root.GetProperty("checkedModes").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task Every_printed_reproduce_command_runs_exactly_its_tests_from_another_folder_and_fails()
    {
        var (code, output, error, root) = await HuntAsync();
        Assert.True(code == ExitCodes.Findings, $"exit code {code}\n{error}\n{output}");
        var elsewhere = Directory.CreateTempSubdirectory("deflake-replay-").FullName;
        try
        {
            foreach (var finding in root.GetProperty("findings").EnumerateArray())
            {
                var test = finding.GetProperty("test").GetString()!;
                var cause = finding.GetProperty("cause").GetString()!;
                var reproduce = finding.GetProperty("reproduce").GetString()!;
                Assert.Contains("  reproduce: " + reproduce + "\n", output, StringComparison.Ordinal);

                var named = Replay.NamedTests(reproduce);
                Assert.Contains(test, named);
                var run = await ReplayAsync(reproduce, elsewhere);

                // Exactly the tests it names ran, and the finding's test failed.
                Assert.True(named.Order(StringComparer.Ordinal).SequenceEqual(run.Outcomes.Keys.Order(StringComparer.Ordinal)), $"{reproduce}\n{run.Output}");
                Assert.True(run.Outcomes[test] == false, $"{test} ({cause}) passed in its replay: {reproduce}\n{run.Output}");
                if (cause == "test-order")
                {
                    // Without the polluter the victim passes: the order is what breaks it.
                    var withoutPolluter = Replay.Without(reproduce, Polluter);
                    Assert.DoesNotContain(Polluter, withoutPolluter, StringComparison.Ordinal);
                    var clean = await ReplayAsync(withoutPolluter, elsewhere);
                    Assert.Equal([test], clean.Outcomes.Keys);
                    Assert.True(clean.Outcomes[test], $"{test} failed without {Polluter} before it: {withoutPolluter}\n{clean.Output}");
                }
            }
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
        }
    }

    private Task<Replay.Result> ReplayAsync(string command, string folder)
        => testingPlatform ? Replay.RunTestingPlatformAsync(command, folder) : Replay.RunAsync(command, folder);
}

/// <summary>The planted xUnit v2 suite, run by xUnit v2's console runner.</summary>
[Collection(SampleCollection.Name)] // builds Deflake's libraries too: not at the same time as the other end-to-end tests
[Trait("Category", "EndToEnd")]
public sealed class HuntOnTheXunit2SuiteTests() : PlantedSuiteHuntTests("Xunit2Suite", testingPlatform: false);

/// <summary>The planted NUnit suite, run as a Microsoft.Testing.Platform program.</summary>
[Collection(SampleCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class HuntOnTheNUnitSuiteTests() : PlantedSuiteHuntTests("NUnitSuite", testingPlatform: true);

/// <summary>The planted MSTest suite, run as a Microsoft.Testing.Platform program.</summary>
[Collection(SampleCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class HuntOnTheMSTestSuiteTests() : PlantedSuiteHuntTests("MSTestSuite", testingPlatform: true);
