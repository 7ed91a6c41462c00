using System.Diagnostics;
using System.Text.Json;

namespace Consumer.Tests;

/// <summary>
/// The deflake tool as a user installs it (<c>dotnet tool install --tool-path</c> from the feed; .ci/run passes its path
/// in DEFLAKE_CONSUMER_TOOL) hunts the repository's flaky sample and finds its planted tests.
/// </summary>
public sealed class InstalledToolTests
{
    [Fact]
    public async Task The_installed_tool_hunts_the_flaky_sample_and_finds_its_planted_tests()
    {
        var tool = Environment.GetEnvironmentVariable("DEFLAKE_CONSUMER_TOOL");
        Assert.True(File.Exists(tool), $"DEFLAKE_CONSUMER_TOOL must name the installed deflake executable (was '{tool}'); .ci/run sets it.");
        var sample = Path.GetFullPath(Path.Combine(RepositoryRoot(), "samples", "Shop.FlakyTests"));
        var work = Directory.CreateTempSubdirectory("deflake-consumer-");
        try
        {
            var json = Path.Combine(work.FullName, "hunt.json");
            var start = new ProcessStartInfo(tool!, ["hunt", sample, "--seed", "42", "--json", json])
            {
                WorkingDirectory = work.FullName, // not the repository: the tool must not depend on where it runs
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);

            Assert.True(process.ExitCode == 1, $"exit code {process.ExitCode} (1: findings)\n{await output}\n{await error}");
            using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken));
            var causes = report.RootElement.GetProperty("findings").EnumerateArray()
                .Select(f => f.GetProperty("cause").GetString()).ToHashSet();
            foreach (var cause in new[] { "identity-alignment", "row-order", "test-order", "parallel-collision" })
            {
                Assert.True(causes.Contains(cause), $"no {cause} finding in\n{await output}");
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Deflake.slnx")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"no Deflake.slnx above {AppContext.BaseDirectory}");
    }
}
