using System.Text.Json;
using Deflake.Cli.Tests.Commands;
using Deflake.Cli.Tests.Reporting;

namespace Deflake.Cli.Tests.EndToEnd;

/// <summary>
/// Runs <c>deflake hunt --modes identities --runs 0</c> on tests/Suites/UncoveredSuite, whose SQLite schema has two rowid
/// tables without AUTOINCREMENT: the hunt must not let its tick for identities claim them, and names them in the console
/// and the JSON report (issue 17, item 7).
/// </summary>
[Collection(SampleCollection.Name)] // builds Deflake.Xunit too: not at the same time as the sample
[Trait("Category", "EndToEnd")]
public sealed class HuntOnASuiteWithUncoveredTablesTests
{
    private const string NoCounter = "no counter: INTEGER PRIMARY KEY without AUTOINCREMENT";

    [Fact]
    public async Task The_tables_identities_could_not_cover_are_named_once_in_the_console_and_the_json()
    {
        var folder = Directory.CreateTempSubdirectory("deflake-uncovered-").FullName;
        try
        {
            var json = Path.Combine(folder, "hunt.json");
            var (code, output, error) = await CommandLineTests.RunAsync(
                "hunt", Repository.Path("tests/Suites/UncoveredSuite"), "--seed", "7", "--modes", "identities", "--runs", "0", "--json", json);

            Assert.True(code == ExitCodes.Clean, $"exit code {code}\n{error}\n{output}");
            var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
            // On the chaos run's own line, a count; under the summary, the names, once.
            Assert.Contains("2 tables not covered (named at the end)", Assert.Single(lines, l => l.Contains("chaos identities ", StringComparison.Ordinal)), StringComparison.Ordinal);
            Assert.Contains("Chaos modes checked: identities.", lines);
            // Wrapped to the console's width at spaces: read the lines after the summary's last line joined.
            var summary = string.Join(' ', lines.SkipWhile(l => !l.StartsWith("Chaos modes checked", StringComparison.Ordinal)).Skip(1).Select(l => l.Trim()));
            Assert.StartsWith($"chaos identities: 2 sqlite tables not covered ({NoCounter}): notes, tags — their ids count as without chaos; see docs/chaos.md.", summary, StringComparison.Ordinal);
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(output, "chaos identities: "));

            var root = JsonDocument.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken)).RootElement;
            JsonContract.AssertValid(root);
            Assert.Equal(
                [$"sqlite|notes|{NoCounter}", $"sqlite|tags|{NoCounter}"],
                root.GetProperty("identitiesNotCovered").EnumerateArray().Select(k => $"{k.GetProperty("engine").GetString()}|{k.GetProperty("key").GetString()}|{k.GetProperty("reason").GetString()}"));
            Assert.Equal(["identities"], root.GetProperty("checkedModes").EnumerateArray().Select(m => m.GetString()));
            Assert.True(root.GetProperty("runs").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "chaos identities").GetProperty("chaosReached").GetBoolean());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
