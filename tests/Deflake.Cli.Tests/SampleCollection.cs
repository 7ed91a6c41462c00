namespace Deflake.Cli.Tests;

/// <summary>
/// The tests that build and run samples/Shop.FlakyTests share one collection, so that no two build it at once, and
/// build it once per test process.
/// </summary>
internal static class SampleCollection
{
    public const string Name = "samples/Shop.FlakyTests";

    private static readonly Lazy<Task<string>> Build = new(async () =>
    {
        var build = System.Diagnostics.Process.Start("dotnet", ["build", Repository.Path("samples/Shop.FlakyTests"), "-v", "q", "-nologo"])!;
        await build.WaitForExitAsync();
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet build samples/Shop.FlakyTests failed with exit code {build.ExitCode}");
        }

        return Repository.Path("samples/Shop.FlakyTests/bin/Debug/net10.0/Shop.FlakyTests.dll");
    });

    /// <summary>Builds the sample (once) and returns its test assembly.</summary>
    public static Task<string> BuildAsync() => Build.Value;
}
