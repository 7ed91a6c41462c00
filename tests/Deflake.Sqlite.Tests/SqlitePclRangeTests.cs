using System.Diagnostics;

namespace Deflake.Sqlite.Tests;

/// <summary>
/// Deflake.Sqlite declares a SQLitePCLRaw range, not this repo's pin (issue 17: a suite pinning 2.1.x centrally could
/// not restore). Packed as users get it, it restores, builds and runs in tests/Consumers/SqlitePcl21, which pins 2.1.13.
/// </summary>
public sealed class SqlitePclRangeTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("deflake-pcl-range-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task A_suite_pinning_SQLitePCLRaw_2_1_restores_builds_and_runs_the_packed_Deflake_Sqlite()
    {
        var repository = RepositoryRoot();
        var feed = Path.Combine(_work, "feed");
        var version = "0.0.0-pcl." + Guid.NewGuid().ToString("N")[..12];
        foreach (var project in new[] { "src/Deflake/Deflake.csproj", "src/Deflake.Sqlite/Deflake.Sqlite.csproj" })
        {
            // Its own artifacts folder: the build this test runs from stays untouched.
            await RunAsync(repository, "pack", Path.Combine(repository, project), "-c", "Release", "-o", feed, "--artifacts-path", Path.Combine(_work, "artifacts"),
                $"-p:Version={version}", "-v", "q");
        }

        var consumer = Path.Combine(repository, "tests", "Consumers", "SqlitePcl21", "SqlitePcl21.csproj");
        var output = await RunAsync(repository, "run", "--project", consumer, "--artifacts-path", Path.Combine(_work, "consumer"),
            $"-p:DeflakeFeed={feed}", $"-p:DeflakeVersion={version}");

        Assert.Contains("OK 2.1.13.", output, StringComparison.Ordinal);
    }

    private static async Task<string> RunAsync(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        var text = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} exited {process.ExitCode}: {text}");
        return text;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Deflake.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Deflake.slnx above {AppContext.BaseDirectory}");
    }
}
