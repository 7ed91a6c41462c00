using System.Diagnostics;

namespace Deflake.Cli.Tests.Packaging;

/// <summary>
/// Every library in src/ keeps a public API baseline (src/Directory.Build.props): the build of the solution proves the
/// files complete, and these tests prove the baseline is enforced — that a library whose public member has no line in
/// PublicAPI.*.txt does not build.
/// </summary>
public sealed class PublicApiBaselineTests
{
    [Fact]
    public void Every_library_in_src_has_a_baseline_that_lists_its_public_api()
    {
        var libraries = Directory.GetFiles(Repository.Path("src"), "*.csproj", SearchOption.AllDirectories)
            .Where(p => !File.ReadAllText(p).Contains("<PackAsTool>true</PackAsTool>", StringComparison.Ordinal))
            .ToArray();
        Assert.True(libraries.Length >= 6, $"found only {libraries.Length} libraries under src/");
        foreach (var project in libraries)
        {
            var folder = Path.GetDirectoryName(project)!;
            var lines = new[] { "PublicAPI.Shipped.txt", "PublicAPI.Unshipped.txt" }
                .SelectMany(f => File.Exists(Path.Combine(folder, f)) ? File.ReadAllLines(Path.Combine(folder, f)) : throw new Xunit.Sdk.XunitException($"{f} missing in {folder}"))
                .Where(l => l.Length > 0 && !l.StartsWith('#'))
                .ToArray();
            Assert.True(lines.Length > 0, $"the public API baseline of {Path.GetFileName(project)} is empty");
        }
    }

    [Fact]
    public async Task A_public_member_without_its_baseline_line_fails_the_build()
    {
        var folder = Directory.CreateTempSubdirectory("deflake-publicapi-");
        try
        {
            // A library under src/'s build rules (imported by absolute path), with a baseline of one type.
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "Directory.Build.props"), $"""
                <Project>
                  <PropertyGroup><DirectoryPackagesPropsPath>{Repository.Path("Directory.Packages.props")}</DirectoryPackagesPropsPath></PropertyGroup>
                  <Import Project="{Repository.Path("src/Directory.Build.props")}" />
                </Project>
                """, TestContext.Current.CancellationToken);
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "Probe.csproj"), """<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><Description>probe</Description></PropertyGroup></Project>""", TestContext.Current.CancellationToken);
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "PublicAPI.Shipped.txt"), "#nullable enable\n", TestContext.Current.CancellationToken);
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "PublicAPI.Unshipped.txt"), "#nullable enable\nProbe.Widget\nProbe.Widget.Widget() -> void\n", TestContext.Current.CancellationToken);
            var source = Path.Combine(folder.FullName, "Widget.cs");
            await File.WriteAllTextAsync(source, "namespace Probe;\n/// <summary>A widget.</summary>\npublic sealed class Widget\n{\n}\n", TestContext.Current.CancellationToken);

            var (listed, listedOutput) = await BuildAsync(folder.FullName);
            Assert.True(listed == 0, $"the probe with a complete baseline did not build:\n{listedOutput}");

            await File.WriteAllTextAsync(source, "namespace Probe;\n/// <summary>A widget.</summary>\npublic sealed class Widget\n{\n    /// <summary>New.</summary>\n    public int Size { get; set; }\n}\n", TestContext.Current.CancellationToken);
            var (unlisted, unlistedOutput) = await BuildAsync(folder.FullName);
            Assert.True(unlisted != 0, $"a public member missing from the baseline still built:\n{unlistedOutput}");
            Assert.Contains("RS0016", unlistedOutput, StringComparison.Ordinal);
            Assert.Contains("Size", unlistedOutput, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static async Task<(int ExitCode, string Output)> BuildAsync(string folder)
    {
        var start = new ProcessStartInfo("dotnet", ["build", folder, "-nologo", "-v", "q", "-p:NuGetAudit=false"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = folder,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await output + await error);
    }
}
