using System.Text.Json;
using Deflake.Cli.Tests.Commands;
using Deflake.Cli.Tests.Reporting;

namespace Deflake.Cli.Tests.EndToEnd;

/// <summary>
/// Runs <c>deflake hunt</c> on tests/Suites/NoDatabaseSuite, whose tests use no Deflake database: its chaos runs
/// reach nothing, and the hunt must say so rather than claim the modes as checked.
/// </summary>
[Collection(SampleCollection.Name)] // builds Deflake.Xunit too: not at the same time as the sample
[Trait("Category", "EndToEnd")]
public sealed class HuntOnASuiteWithoutDatabasesTests
{
    [Fact]
    public async Task Chaos_that_reached_no_database_is_reported_as_nothing_checked_and_the_modes_are_not_claimed()
    {
        var folder = Directory.CreateTempSubdirectory("deflake-nodb-").FullName;
        try
        {
            var json = Path.Combine(folder, "hunt.json");
            var (code, output, error) = await CommandLineTests.RunAsync("hunt", Repository.Path("tests/Suites/NoDatabaseSuite"), "--seed", "5", "--runs", "1", "--json", json);

            Assert.True(code == ExitCodes.Clean, $"exit code {code}\n{error}\n{output}");
            var lines = output.Split('\n');
            foreach (var mode in new[] { "identities", "rows" })
            {
                // On the chaos run's own line.
                var line = Assert.Single(lines, l => l.Contains($"chaos {mode} ", StringComparison.Ordinal) && l.Contains("passed", StringComparison.Ordinal));
                Assert.Contains($"chaos {mode}: no test used a Deflake database — nothing was checked", line, StringComparison.Ordinal);
            }

            Assert.Contains("Chaos modes checked: none; not checked: identities, rows (no test used a Deflake database under them).", output, StringComparison.Ordinal);
            Assert.DoesNotContain("no test used a Deflake database — nothing was checked", Assert.Single(lines, l => l.Contains("baseline ", StringComparison.Ordinal) && l.Contains("passed", StringComparison.Ordinal)), StringComparison.Ordinal);

            var root = JsonDocument.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken)).RootElement;
            JsonContract.AssertValid(root);
            Assert.Equal(["identities", "rows"], root.GetProperty("modes").EnumerateArray().Select(m => m.GetString()));
            Assert.Empty(root.GetProperty("checkedModes").EnumerateArray());
            Assert.Equal(["identities", "rows"], root.GetProperty("uncheckedModes").EnumerateArray().Select(m => m.GetString()));
            var runs = root.GetProperty("runs").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
            Assert.False(runs["chaos identities"].GetProperty("chaosReached").GetBoolean());
            Assert.False(runs["chaos rows"].GetProperty("chaosReached").GetBoolean());
            Assert.Equal(JsonValueKind.Null, runs["baseline"].GetProperty("chaosReached").ValueKind);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
