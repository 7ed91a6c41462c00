using System.Diagnostics;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.Json;

namespace Deflake.Cli.Running;

/// <summary>A test project deflake can hunt in: resolved, checked, built once.</summary>
internal sealed partial class TestProject
{
    private TestProject(string projectPath, string assemblyPath, TestFramework framework)
    {
        ProjectPath = projectPath;
        AssemblyPath = assemblyPath;
        Framework = framework;
    }

    /// <summary>The test framework it uses, which picks its runner.</summary>
    public TestFramework Framework { get; }

    /// <summary>The project file (or the assembly, when an assembly was given).</summary>
    public string ProjectPath { get; }

    /// <summary>The built test assembly.</summary>
    public string AssemblyPath { get; }

    /// <summary>
    /// Resolves <paramref name="path"/> (a project file, a directory with one project file, or a built test
    /// assembly), finds its test framework (xUnit v3, xUnit v2, NUnit, MSTest), checks deflake can order and run
    /// its tests, and builds it once.
    /// </summary>
    /// <exception cref="CliException">Exit code 2 for a path that is not a usable test project, 3 for a build failure.</exception>
    public static async Task<TestProject> PrepareAsync(string? path, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var target = Path.GetFullPath(string.IsNullOrWhiteSpace(path) ? "." : path);
        if (File.Exists(target) && target.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            var detected = TestFrameworks.FromAssembly(target)
                ?? throw CliException.Usage($"{Shell.DisplayPath(target)} references no test framework deflake knows (xUnit v3, xUnit v2, NUnit, MSTest); give a test assembly.");
            CheckBuilt(detected, target);
            return new TestProject(target, target, detected);
        }

        var projectFile = FindProjectFile(target, path ?? ".");
        progress?.Invoke($"evaluating {Shell.DisplayPath(projectFile)}");
        var evaluation = await ProcessRunner.RunAsync("dotnet",
            ["msbuild", projectFile, "-nologo", "-getProperty:TargetPath", "-getProperty:IsTestProject", "-getItem:PackageReference"],
            cancellationToken: cancellationToken).ConfigureAwait(false);
        if (evaluation.ExitCode != 0)
        {
            throw CliException.Usage($"{Shell.DisplayPath(projectFile)} is not a project MSBuild can read: {FirstErrorLine(evaluation)}");
        }

        var (targetPath, isTestProject, packages) = ParseEvaluation(evaluation.Output);
        var framework = CheckFramework(projectFile, isTestProject, packages);

        progress?.Invoke($"building {Shell.DisplayPath(projectFile)}");
        var build = await BuildAsync(projectFile, progress, cancellationToken).ConfigureAwait(false);
        if (build.ExitCode != 0)
        {
            throw CliException.Run($"{Shell.DisplayPath(projectFile)} does not build: {FirstErrorLine(build)}");
        }

        if (!File.Exists(targetPath))
        {
            throw CliException.Run($"{Shell.DisplayPath(projectFile)} built, but its assembly {targetPath} is missing.");
        }

        CheckBuilt(framework, targetPath);
        return new TestProject(projectFile, targetPath, framework);
    }

    /// <summary>
    /// Builds <paramref name="projectFile"/>, saying as it goes which projects are built and, after
    /// <see cref="BuildSilence"/> without news, how long it has been building: a first build restores and compiles for minutes.
    /// </summary>
    private static async Task<ProcessResult> BuildAsync(string projectFile, Action<string>? progress, CancellationToken cancellationToken)
    {
        var build = ProcessRunner.Start("dotnet", ["build", projectFile, "-nologo", "-v", "m", "-clp:NoSummary", "-tl:off"]);
        await using (build.ConfigureAwait(false))
        {
            var started = Stopwatch.StartNew();
            var lastNews = started.Elapsed;
            var reported = 0;
            var wait = build.WaitAsync(cancellationToken: cancellationToken);
            void Report(bool all)
            {
                var lines = build.OutputSoFar.Split('\n');
                for (; reported < lines.Length - (all ? 0 : 1); reported++)
                {
                    if (BuiltProject().Match(lines[reported]) is { Success: true } built)
                    {
                        progress?.Invoke($"built {built.Groups[1].Value} ({started.Elapsed.TotalSeconds:0} s)");
                        lastNews = started.Elapsed;
                    }
                }
            }

            while (await Task.WhenAny(wait, Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken)).ConfigureAwait(false) != wait)
            {
                Report(all: false);
                if (started.Elapsed - lastNews >= BuildSilence)
                {
                    progress?.Invoke($"still building {Shell.DisplayPath(projectFile)} ({started.Elapsed.TotalSeconds:0} s)");
                    lastNews = started.Elapsed;
                }
            }

            var result = await wait.ConfigureAwait(false);
            Report(all: true);
            return result;
        }
    }

    /// <summary>How long a build may be silent before deflake says it is still building.</summary>
    internal static readonly TimeSpan BuildSilence = TimeSpan.FromSeconds(15);

    /// <summary>MSBuild's line for a project it built: <c>  Name -> /path/Name.dll</c>.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*(\S+) -> \S")]
    private static partial System.Text.RegularExpressions.Regex BuiltProject();

    private static string FindProjectFile(string target, string given)
    {
        if (Directory.Exists(target))
        {
            var projects = Directory.GetFiles(target, "*.*proj").Where(f => f.EndsWith("proj", StringComparison.OrdinalIgnoreCase)).ToArray();
            return projects.Length switch
            {
                1 => projects[0],
                0 => throw CliException.Usage($"{given} is not a test project: it holds no project file."),
                _ => throw CliException.Usage($"{given} holds {projects.Length} project files; name one."),
            };
        }

        if (!File.Exists(target))
        {
            throw CliException.Usage($"{given} does not exist.");
        }

        if (!target.EndsWith("proj", StringComparison.OrdinalIgnoreCase))
        {
            throw CliException.Usage($"{given} is not a test project: give a project file, its directory, or a built test assembly (.dll).");
        }

        return target;
    }

    internal static (string TargetPath, bool IsTestProject, IReadOnlyList<string> Packages) ParseEvaluation(string json)
    {
        var start = json.IndexOf('{', StringComparison.Ordinal);
        using var document = JsonDocument.Parse(start >= 0 ? json[start..] : json);
        var properties = document.RootElement.GetProperty("Properties");
        var targetPath = properties.GetProperty("TargetPath").GetString() ?? string.Empty;
        var isTest = string.Equals(properties.GetProperty("IsTestProject").GetString(), "true", StringComparison.OrdinalIgnoreCase);
        var packages = new List<string>();
        if (document.RootElement.TryGetProperty("Items", out var items) && items.TryGetProperty("PackageReference", out var references))
        {
            packages.AddRange(references.EnumerateArray().Select(r => r.GetProperty("Identity").GetString() ?? string.Empty));
        }

        return (targetPath, isTest, packages);
    }

    /// <summary>The project's test framework, or a one-line refusal naming what deflake hunts.</summary>
    /// <exception cref="CliException">An unknown framework, or two (exit code 2).</exception>
    internal static TestFramework CheckFramework(string projectFile, bool isTestProject, IReadOnlyList<string> packages)
    {
        var name = Shell.DisplayPath(projectFile);
        if (TestFrameworks.FromPackages(packages, name) is { } framework)
        {
            return framework;
        }

        if (packages.Any(p => p.StartsWith("tunit", StringComparison.OrdinalIgnoreCase)))
        {
            throw CliException.Usage($"{name} uses TUnit, which deflake cannot order yet; deflake hunts xUnit v3, xUnit v2, NUnit and MSTest projects (see docs/hunt.md).");
        }

        throw CliException.Usage(isTestProject
            ? $"{name} is a test project without a test framework deflake knows; deflake hunts xUnit v3, xUnit v2, NUnit and MSTest projects (package xunit.v3, xunit, NUnit or MSTest)."
            : $"{name} is not a test project (no reference to xunit.v3, xunit, NUnit or MSTest).");
    }

    /// <summary>Checks a built test assembly can be run (<see cref="TestFrameworks.CheckRunnable"/>) and ordered.</summary>
    private static void CheckBuilt(TestFramework framework, string assemblyPath)
    {
        TestFrameworks.CheckRunnable(framework, assemblyPath);
        CheckOrdering(assemblyPath, framework);
    }

    /// <summary>Checks the test assembly registers Deflake's orderers, without which order runs mean nothing.</summary>
    internal static void CheckOrdering(string assemblyPath, TestFramework framework = TestFramework.XunitV3)
    {
        if (!RegistersDeflakeOrder(assemblyPath))
        {
            throw CliException.Usage(
                $"{Shell.DisplayPath(assemblyPath)} does not let deflake order its tests: add {framework.OrderAttributeLine()} to the test project.");
        }
    }

    internal static bool RegistersDeflakeOrder(string assemblyPath)
    {
        try
        {
            using var stream = File.OpenRead(assemblyPath);
            using var pe = new PEReader(stream);
            if (!pe.HasMetadata)
            {
                return false;
            }

            var reader = pe.GetMetadataReader();
            foreach (var handle in reader.GetAssemblyDefinition().GetCustomAttributes())
            {
                var attribute = reader.GetCustomAttribute(handle);
                var typeName = attribute.Constructor.Kind switch
                {
                    HandleKind.MemberReference => reader.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent is { Kind: HandleKind.TypeReference } parent
                        ? reader.GetString(reader.GetTypeReference((TypeReferenceHandle)parent).Name)
                        : null,
                    HandleKind.MethodDefinition => reader.GetString(reader.GetTypeDefinition(reader.GetMethodDefinition((MethodDefinitionHandle)attribute.Constructor).GetDeclaringType()).Name),
                    _ => null,
                };
                if (typeName == "DeflakeOrderAttribute")
                {
                    return true;
                }
            }

            return false;
        }
        catch (BadImageFormatException)
        {
            throw CliException.Usage($"{Shell.DisplayPath(assemblyPath)} is not a .NET assembly.");
        }
    }

    private static string FirstErrorLine(ProcessResult result)
    {
        var lines = (result.Output + "\n" + result.Error).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.FirstOrDefault(l => l.Contains(": error ", StringComparison.Ordinal) || l.Contains("error MSB", StringComparison.Ordinal))
            ?? lines.FirstOrDefault()
            ?? $"exit code {result.ExitCode}";
    }
}
