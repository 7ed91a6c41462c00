using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Deflake.Testing;

namespace Deflake.Cli.Running;

/// <summary>
/// Runs a built NUnit or MSTest test assembly as a Microsoft.Testing.Platform program (<c>dotnet Tests.dll</c>, no
/// VSTest host): <c>--filter</c> naming the listed tests, <c>--report-trx</c> for per-test results with start and end
/// times, and a runsettings file that turns parallelism off for a one-at-a-time run (a parallel run keeps the suite's
/// own: MSTest's <c>[Parallelize]</c>, NUnit's <c>[Parallelizable]</c>). The order within an NUnit process comes from
/// <c>DEFLAKE_ORDER</c>, which Deflake.NUnit honours; MSTest fixes its order before any test code runs, so for a
/// one-at-a-time MSTest run in another order than its own this runner hands MSTest the order itself, as a chain of
/// test dependencies in a configuration file (<c>--config-file</c>; docs/mstest.md), over exactly the tests that run.
/// </summary>
/// <remarks>Measured against the alternatives in docs/hunt.md (fixed cost of a run).</remarks>
internal sealed class TestingPlatformRunner(TestFramework framework, string assemblyPath, string workDirectory, TimeSpan timeout)
    : ColdTestRunner(assemblyPath, workDirectory, timeout)
{
    /// <summary>The runsettings file a printed <c>reproduce</c> command writes for a one-at-a-time run, in the shell's folder.</summary>
    internal const string SettingsFileName = "deflake.runsettings";

    /// <summary>The MSTest configuration file a printed <c>reproduce</c> command writes for an ordered run, in the shell's folder.</summary>
    internal const string ConfigFileName = "deflake.testconfig.json";

    private IReadOnlyList<string>? _allTests;

    /// <summary>The framework: NUnit or MSTest.</summary>
    public TestFramework Framework => framework;

    /// <inheritdoc/>
    public override async Task<IReadOnlyList<string>> ListTestsAsync(CancellationToken cancellationToken = default)
    {
        var result = await ProcessRunner.RunAsync("dotnet", [AssemblyPath, "--list-tests", "json", "--no-ansi", "--progress", "off"],
            RunInputs.Environment(null), timeout: Timeout, cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            return _allTests = result.ExitCode == 0 ? ParseTestList(result.Output) : throw new JsonException();
        }
        catch (JsonException)
        {
            throw CliException.Run(
                $"{Shell.DisplayPath(AssemblyPath)} could not list its tests as JSON (--list-tests json needs Microsoft.Testing.Platform 2.x, from MSTest 4 or NUnit3TestAdapter 6): {FirstLine(result.Error + "\n" + result.Output)}");
        }
    }

    /// <summary>Reads <c>--list-tests json</c>: every test id <c>Namespace.Class.Method</c>, in listing order, once.</summary>
    /// <exception cref="JsonException">Not such a listing.</exception>
    internal static IReadOnlyList<string> ParseTestList(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var start = output.IndexOf('{', StringComparison.Ordinal);
        var end = output.LastIndexOf('}');
        if (start < 0 || end < start)
        {
            throw new JsonException("no JSON object in the output");
        }

        using var document = JsonDocument.Parse(output[start..(end + 1)]);
        var ids = new List<string>();
        foreach (var test in document.RootElement.GetProperty("tests").EnumerateArray())
        {
            var type = test.GetProperty("type");
            var ns = type.TryGetProperty("namespace", out var n) ? n.GetString() : null;
            var typeName = type.GetProperty("typeName").GetString() ?? string.Empty;
            var method = type.GetProperty("methodName").GetString() ?? string.Empty;
            var id = TrxResults.TestId(string.IsNullOrEmpty(ns) ? typeName : $"{ns}.{typeName}", method);
            if (!ids.Contains(id, StringComparer.Ordinal))
            {
                ids.Add(id);
            }
        }

        return ids;
    }

    /// <inheritdoc/>
    protected override string ResultsPath(int number) => Inputs.PathOf("run", number, ".trx");

    /// <inheritdoc/>
    protected override async Task<(string FileName, IReadOnlyList<string> Arguments)> CommandAsync(RunRequest request, int number, string resultsPath, CancellationToken cancellationToken)
    {
        if (NeedsChain(request) && request.Tests is null && _allTests is null)
        {
            await ListTestsAsync(cancellationToken).ConfigureAwait(false);
        }

        string? settings = null;
        string? config = null;
        if (Chain(request) is { } chain)
        {
            config = Inputs.PathOf("config", number, ".json");
            await File.WriteAllTextAsync(config, chain, cancellationToken).ConfigureAwait(false);
        }
        else if (!request.Parallel)
        {
            settings = Inputs.PathOf("settings", number, ".runsettings");
            await File.WriteAllTextAsync(settings, OneAtATimeSettings, cancellationToken).ConfigureAwait(false);
        }

        List<string> arguments =
        [
            AssemblyPath, "--no-ansi", "--progress", "off",
            "--results-directory", Inputs.WorkDirectory, "--report-trx", "--report-trx-filename", Path.GetFileName(resultsPath),
            .. Selection(request, settings, config),
        ];
        return ("dotnet", arguments);
    }

    /// <summary>An MSTest run one at a time in another order than MSTest's own: its order goes in as a dependency chain.</summary>
    private bool NeedsChain(RunRequest request)
        => framework == TestFramework.MSTest && !request.Parallel && request.Order != RunOrderKind.Default;

    /// <summary>The MSTest configuration that runs the request's tests in its order, one after the other; null when none is needed (or the tests are unknown).</summary>
    private string? Chain(RunRequest request)
    {
        if (!NeedsChain(request) || (request.Tests ?? _allTests) is not { } tests)
        {
            return null;
        }

        var ids = tests.Distinct(StringComparer.Ordinal).ToArray();
        IReadOnlyList<string> ordered = request.Order switch
        {
            RunOrderKind.Random => TestOrdering.Random(ids, request.Seed, id => id),
            // Reverse of MSTest's own order (the listing's, which is declaration order).
            RunOrderKind.Reverse => (_allTests ?? ids).Where(ids.Contains).Reverse().ToArray(),
            _ => ids,
        };
        return ordered.Count < 2 ? null : MSTestChain(ordered);
    }

    /// <summary>
    /// An MSTest configuration file (one line) in which each test depends on the one before it and runs when that one
    /// failed (<c>mstest:execution:dependencies</c>): MSTest then runs them in exactly this order, across classes.
    /// </summary>
    internal static string MSTestChain(IReadOnlyList<string> ordered)
    {
        ArgumentNullException.ThrowIfNull(ordered);
        var nodes = ordered.Skip(1).Select((test, i) => new { test, dependsOn = new[] { ordered[i] }, proceedOnFailure = true }).ToArray();
        return JsonSerializer.Serialize(new { mstest = new { execution = new { dependencies = new { nodes } } } });
    }

    /// <inheritdoc/>
    protected override (IReadOnlyList<TestOutcome> Tests, int Discovered) ReadResults(string resultsPath)
    {
        var document = XDocument.Load(resultsPath);
        return (TrxResults.Parse(document), TrxResults.CountTests(document));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Works from any folder: the assembly by its absolute path, the order, chaos and runsettings files written in the
    /// shell's folder and named as <c>"$PWD/…"</c>; the filter names exactly the tests of the run.
    /// </remarks>
    public override string ReproduceCommand(RunRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var chain = Chain(request);
        var files = chain is not null ? new[] { (ConfigFileName, chain) } : request.Parallel ? [] : new[] { (SettingsFileName, OneAtATimeSettings) };
        var words = new List<string> { "dotnet", AssemblyPath }.Select(Shell.Quote).ToList();
        foreach (var word in Selection(request, chain is null && !request.Parallel ? SettingsFileName : null, chain is null ? null : ConfigFileName))
        {
            words.Add(word is SettingsFileName or ConfigFileName ? Shell.InCurrentDirectory(word) : Shell.Quote(word));
        }

        return RunInputs.ReproducePrefix(request, files) + string.Join(' ', words);
    }

    /// <summary>The settings and filter arguments: which tests run, and how many at a time.</summary>
    private static IEnumerable<string> Selection(RunRequest request, string? settings, string? config)
    {
        if (settings is not null)
        {
            yield return "--settings";
            yield return settings;
        }

        if (config is not null)
        {
            yield return "--config-file";
            yield return config;
        }

        if (request.Tests is not null)
        {
            yield return "--filter";
            yield return Filter(request.Tests);
        }
    }

    /// <summary>
    /// A VSTest-style filter matching exactly these tests by fully qualified name. NUnit names each row of a
    /// parameterised method with its arguments (<c>Class.Method(1)</c>), which this does not match: NUnit 6.3's filter
    /// parser rejects the escaped parenthesis a prefix match would need (measured), so such tests are not hunted.
    /// </summary>
    internal static string Filter(IEnumerable<string> tests)
    {
        ArgumentNullException.ThrowIfNull(tests);
        return string.Join('|', tests.Distinct(StringComparer.Ordinal).Select(t => $"FullyQualifiedName={EscapeFilterValue(t)}"));
    }

    /// <summary>Escapes the characters a VSTest filter gives meaning to (<c>\ ( ) &amp; | = ! ~</c>).</summary>
    internal static string EscapeFilterValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (@"\()&|=!~".Contains(c, StringComparison.Ordinal))
            {
                text.Append('\\');
            }

            text.Append(c);
        }

        return text.ToString();
    }

    /// <summary>
    /// Runsettings for a one-at-a-time run, one line: for MSTest, VSTest's switch and a single worker; for NUnit, no
    /// workers (every test on the main thread, in order).
    /// </summary>
    private string OneAtATimeSettings => framework == TestFramework.NUnit
        ? "<RunSettings><NUnit><NumberOfTestWorkers>0</NumberOfTestWorkers></NUnit></RunSettings>"
        : "<RunSettings><RunConfiguration><DisableParallelization>true</DisableParallelization></RunConfiguration><MSTest><Parallelize><Workers>1</Workers></Parallelize></MSTest></RunSettings>";
}
