using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Deflake.Cli.Running;

/// <summary>The test frameworks deflake runs, each through its own <see cref="ITestRunner"/>.</summary>
internal enum TestFramework
{
    /// <summary>xUnit v3 (<c>xunit.v3</c>): the test project is a program, run directly.</summary>
    XunitV3,

    /// <summary>xUnit v2 (<c>xunit</c> 2.x): run by the xUnit v2 console runner deflake carries.</summary>
    XunitV2,

    /// <summary>NUnit (3.x to 5.x), run as a Microsoft.Testing.Platform program (<c>EnableNUnitRunner</c>).</summary>
    NUnit,

    /// <summary>MSTest, run as a Microsoft.Testing.Platform program (<c>EnableMSTestRunner</c> or MSTest.Sdk).</summary>
    MSTest,
}

/// <summary>Which test framework a project or a built test assembly uses, and what each needs to be hunted.</summary>
internal static class TestFrameworks
{
    /// <summary>The framework's name for messages and reports.</summary>
    public static string DisplayName(this TestFramework framework) => framework switch
    {
        TestFramework.XunitV3 => "xUnit v3",
        TestFramework.XunitV2 => "xUnit v2",
        TestFramework.NUnit => "NUnit",
        _ => "MSTest",
    };

    /// <summary>The line a test project adds so that deflake can order its tests, and the package it comes from.</summary>
    public static string OrderAttributeLine(this TestFramework framework) => framework switch
    {
        TestFramework.XunitV3 => "[assembly: Deflake.Xunit.Ordering.DeflakeOrder] (package Deflake.Xunit)",
        TestFramework.XunitV2 => "[assembly: Deflake.Xunit2.DeflakeOrder] (package Deflake.Xunit2)",
        TestFramework.NUnit => "[assembly: Deflake.NUnit.DeflakeOrder] (package Deflake.NUnit)",
        _ => "[assembly: Deflake.MSTest.DeflakeOrder] (package Deflake.MSTest)",
    };

    /// <summary>
    /// The framework of a project from its package references (as MSBuild evaluates them: the project file, its
    /// imports and SDK); null when it names none deflake knows. xUnit v3 first: its projects often also reference the
    /// VSTest adapter <c>xunit.runner.visualstudio</c>, which serves both xUnit versions.
    /// </summary>
    /// <exception cref="CliException">It references two frameworks (exit code 2).</exception>
    public static TestFramework? FromPackages(IReadOnlyList<string> packages, string projectName)
    {
        ArgumentNullException.ThrowIfNull(packages);
        var ids = packages.Select(p => p.Trim().ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        var found = new List<TestFramework>();
        if (ids.Any(p => p.StartsWith("xunit.v3", StringComparison.Ordinal)))
        {
            found.Add(TestFramework.XunitV3);
        }
        else if (ids.Contains("xunit") || ids.Contains("xunit.core"))
        {
            found.Add(TestFramework.XunitV2);
        }

        if (ids.Contains("nunit") || ids.Contains("nunit.framework"))
        {
            found.Add(TestFramework.NUnit);
        }

        if (ids.Contains("mstest") || ids.Contains("mstest.testframework"))
        {
            found.Add(TestFramework.MSTest);
        }

        return found.Count switch
        {
            0 => null,
            1 => found[0],
            _ => throw CliException.Usage(
                $"{projectName} references {string.Join(" and ", found.Select(DisplayName))}; deflake hunts one test framework per project: hunt a project that uses one."),
        };
    }

    /// <summary>
    /// The framework of a built test assembly from the assemblies it references (<c>xunit.v3.core</c>,
    /// <c>xunit.core</c>, <c>nunit.framework</c>, MSTest's <c>MSTest.TestFramework</c>, before MSTest 4
    /// <c>Microsoft.VisualStudio.TestPlatform.TestFramework</c>);
    /// null when none.
    /// </summary>
    public static TestFramework? FromAssembly(string assemblyPath)
    {
        var references = ReferencedAssemblies(assemblyPath);
        return references.Contains("xunit.v3.core") ? TestFramework.XunitV3
            : references.Contains("xunit.core") ? TestFramework.XunitV2
            : references.Contains("nunit.framework") ? TestFramework.NUnit
            : references.Contains("MSTest.TestFramework") || references.Contains("Microsoft.VisualStudio.TestPlatform.TestFramework") ? TestFramework.MSTest
            : null;
    }

    /// <summary>Whether a built test assembly is a Microsoft.Testing.Platform program (it references the platform).</summary>
    public static bool IsTestingPlatformProgram(string assemblyPath)
        => ReferencedAssemblies(assemblyPath).Contains("Microsoft.Testing.Platform")
            && File.Exists(Path.ChangeExtension(assemblyPath, ".runtimeconfig.json"));

    /// <summary>
    /// Refuses a built NUnit or MSTest assembly that is not a Microsoft.Testing.Platform program, with the two
    /// properties that make it one (deflake runs those frameworks that way: no VSTest host, a filter, TRX results).
    /// </summary>
    /// <exception cref="CliException">Exit code 2.</exception>
    public static void CheckRunnable(TestFramework framework, string assemblyPath)
    {
        if (framework is TestFramework.NUnit or TestFramework.MSTest && !IsTestingPlatformProgram(assemblyPath))
        {
            var property = framework == TestFramework.NUnit ? "EnableNUnitRunner" : "EnableMSTestRunner";
            var needs = framework == TestFramework.NUnit ? "NUnit3TestAdapter 5 or later" : "MSTest 3.2 or later, or the MSTest.Sdk";
            throw CliException.Usage(
                $"{Shell.DisplayPath(assemblyPath)} runs {framework.DisplayName()} through VSTest only; deflake runs {framework.DisplayName()} as a Microsoft.Testing.Platform program: add <{property}>true</{property}> and <OutputType>Exe</OutputType> to the test project ({needs}).");
        }

        if (framework is TestFramework.NUnit or TestFramework.MSTest
            && !File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(assemblyPath))!, "Microsoft.Testing.Extensions.TrxReport.dll")))
        {
            throw CliException.Usage(
                $"{Shell.DisplayPath(assemblyPath)} cannot write TRX results, which deflake reads: add the package Microsoft.Testing.Extensions.TrxReport to the test project (the MSTest package has it).");
        }
    }

    /// <summary>The simple names of the assemblies an assembly references.</summary>
    /// <exception cref="CliException">It is not a .NET assembly (exit code 2).</exception>
    internal static HashSet<string> ReferencedAssemblies(string assemblyPath)
    {
        try
        {
            using var stream = File.OpenRead(assemblyPath);
            using var pe = new PEReader(stream);
            if (!pe.HasMetadata)
            {
                throw CliException.Usage($"{Shell.DisplayPath(assemblyPath)} is not a .NET assembly.");
            }

            var reader = pe.GetMetadataReader();
            return reader.AssemblyReferences.Select(h => reader.GetString(reader.GetAssemblyReference(h).Name)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        }
        catch (BadImageFormatException)
        {
            throw CliException.Usage($"{Shell.DisplayPath(assemblyPath)} is not a .NET assembly.");
        }
    }
}
