using System.Diagnostics;

namespace Deflake.MariaDb.Tests;

/// <summary>
/// A machine without mariadb-server (issue 17): this test project, run again in a child process with the binaries
/// hidden (DEFLAKE_MARIADB_BIN_DIR at an empty folder), reports MariaDB tests skipped and why, and passes; with
/// DEFLAKE_REQUIRE_ENGINES=mariadb, as .ci/run sets it, they fail.
/// </summary>
public sealed class MissingBinariesTests
{
    private const string Test = "Deflake.MariaDb.Tests.MariaDbContractTests.Each_clone_starts_from_the_template_and_sees_only_its_own_writes";

    [Fact]
    public async Task Without_the_binaries_tests_are_skipped_naming_the_package_and_fail_when_the_engine_is_required()
    {
        var (skippedCode, skipped) = await RunSelfAsync(require: null);
        Assert.True(skippedCode == 0, skipped);
        Assert.Contains("[SKIP]", skipped, StringComparison.Ordinal);
        Assert.Contains("install the package mariadb-server (apt-get install mariadb-server) or set DEFLAKE_MARIADB", skipped, StringComparison.Ordinal);
        Assert.Contains("Skipped: 1", skipped, StringComparison.Ordinal);

        var (requiredCode, required) = await RunSelfAsync(require: "postgres,mariadb");
        Assert.NotEqual(0, requiredCode);
        Assert.Contains("[FAIL]", required, StringComparison.Ordinal);
        Assert.Contains("no MariaDB server binaries found", required, StringComparison.Ordinal);
        Assert.Contains("Failed: 1", required, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Output)> RunSelfAsync(string? require)
    {
        var empty = Directory.CreateTempSubdirectory("deflake-no-mariadb-").FullName;
        try
        {
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
            var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { typeof(MissingBinariesTests).Assembly.Location, "-method", Test, "-noColor" })
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment[DeflakeEnvironment.MariaDbBinDirectory] = empty;
            start.Environment.Remove(DeflakeEnvironment.MariaDb);
            if (require is null)
            {
                start.Environment.Remove(DeflakeEnvironment.RequireEngines);
            }
            else
            {
                start.Environment[DeflakeEnvironment.RequireEngines] = require;
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
            return (process.ExitCode, await stdout + await stderr);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }
}
