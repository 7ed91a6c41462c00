using System.Xml.Linq;

namespace Deflake.Cli.Running;

/// <summary>
/// Runs a built xUnit v2 test assembly with xUnit v2's own console runner (<c>xunit.console.dll</c>, which deflake
/// carries in its <c>xunit2</c> folder): <c>-method</c> naming the listed tests, <c>-parallel none</c> or
/// <c>collections</c> with unlimited threads, and its XML results. The order within the process comes from
/// <c>DEFLAKE_ORDER</c>, which Deflake.Xunit2's orderers honour.
/// </summary>
/// <remarks>
/// Measured (docs/hunt.md): about a quarter of a VSTest <c>dotnet test</c> run's fixed cost. Its XML has each test's
/// duration and collection, in the order they ran within a collection, but no start times: a parallel run cannot tell
/// which tests overlapped (deflake then treats them as possibly concurrent and confirms a collision by a pair run).
/// The console runner cannot list tests without running them, so listing runs the suite one test at a time, without
/// chaos.
/// </remarks>
internal sealed class Xunit2Runner(string assemblyPath, string workDirectory, TimeSpan timeout, string? consolePath = null)
    : ColdTestRunner(assemblyPath, workDirectory, timeout)
{
    /// <summary>The console runner deflake carries, beside its own assembly.</summary>
    public string ConsolePath { get; } = consolePath ?? Path.Combine(AppContext.BaseDirectory, "xunit2", "xunit.console.dll");

    /// <inheritdoc/>
    public override async Task<IReadOnlyList<string>> ListTestsAsync(CancellationToken cancellationToken = default)
    {
        var run = await RunAsync(new RunRequest("list", RunOrderKind.Default, "none", 0, Parallel: false), cancellationToken).ConfigureAwait(false);
        return run.Tests.Select(t => t.TestId).ToArray();
    }

    /// <inheritdoc/>
    protected override string ResultsPath(int number) => Inputs.PathOf("run", number, ".xml");

    /// <inheritdoc/>
    protected override Task<(string FileName, IReadOnlyList<string> Arguments)> CommandAsync(RunRequest request, int number, string resultsPath, CancellationToken cancellationToken)
    {
        if (!File.Exists(ConsolePath))
        {
            throw CliException.Run($"xUnit v2's console runner is missing from deflake's folder ({ConsolePath}); reinstall deflake.");
        }

        IReadOnlyList<string> arguments = [ConsolePath, AssemblyPath, .. Switches(request), "-xml", resultsPath];
        return Task.FromResult(("dotnet", arguments));
    }

    /// <inheritdoc/>
    protected override (IReadOnlyList<TestOutcome> Tests, int Discovered) ReadResults(string resultsPath)
    {
        var document = XDocument.Load(resultsPath);
        return (XunitV3Runner.ParseResults(document), XunitV3Runner.CountTests(document));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Works from any folder: the console runner and the assembly by their absolute paths, the order and chaos files
    /// written in the shell's folder and named as <c>"$PWD/…"</c>; <c>-method</c> names exactly the tests of the run.
    /// </remarks>
    public override string ReproduceCommand(RunRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        IEnumerable<string> words = ["dotnet", ConsolePath, AssemblyPath, .. Switches(request)];
        return RunInputs.ReproducePrefix(request) + string.Join(' ', words.Select(Shell.Quote));
    }

    private static IEnumerable<string> Switches(RunRequest request)
    {
        yield return "-nologo";
        yield return "-nocolor";
        yield return "-noautoreporters";
        yield return "-parallel";
        if (request.Parallel)
        {
            yield return "collections";
            yield return "-maxthreads";
            yield return "unlimited";
        }
        else
        {
            yield return "none";
        }

        foreach (var test in request.Tests?.Distinct(StringComparer.Ordinal) ?? [])
        {
            yield return "-method";
            yield return test;
        }
    }
}
