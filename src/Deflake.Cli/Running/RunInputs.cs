using System.Globalization;
using System.Text.RegularExpressions;

namespace Deflake.Cli.Running;

/// <summary>
/// What every runner hands a test process, whatever its framework: the order file (a run of some tests lists them,
/// in order), the per-test chaos file, the activity file, and the <c>DEFLAKE_*</c> settings naming them; and the same
/// for a printed <c>reproduce</c> command, which writes its files in the shell's folder.
/// </summary>
internal sealed partial class RunInputs(string workDirectory)
{
    /// <summary>The file a printed <c>reproduce</c> command writes the order of its tests to, in the shell's folder.</summary>
    public const string OrderFileName = "deflake-order.txt";

    /// <summary>The file a printed <c>reproduce</c> command writes its per-test chaos modes to, in the shell's folder.</summary>
    public const string ChaosFileName = "deflake-chaos.txt";

    /// <summary>The work folder.</summary>
    public string WorkDirectory => workDirectory;

    /// <summary>A file of run <paramref name="number"/> in the work folder: <c>{prefix}-0001{extension}</c>.</summary>
    public string PathOf(string prefix, int number, string extension)
        => Path.Combine(workDirectory, string.Create(CultureInfo.InvariantCulture, $"{prefix}-{number:D4}{extension}"));

    /// <summary>The run's <c>DEFLAKE_ACTIVITY</c> file: what its test process did with Deflake databases.</summary>
    public string ActivityPath(int number) => PathOf("activity", number, ".txt");

    /// <summary>Writes the run's order and per-test chaos files; returns its DEFLAKE_* settings (null: unset).</summary>
    public async Task<Dictionary<string, string?>> WriteAsync(RunRequest request, int number, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        Directory.CreateDirectory(workDirectory);
        string? orderFile = null;
        if (request.Tests is not null)
        {
            // A run of some tests is a list run: the order file is also the filter (unlisted tests do not run).
            orderFile = PathOf("order", number, ".txt");
            await File.WriteAllLinesAsync(orderFile, request.Tests, cancellationToken).ConfigureAwait(false);
        }

        string? chaosFile = null;
        if (request.TestChaos is { Count: > 0 } testChaos)
        {
            chaosFile = PathOf("chaos", number, ".txt");
            await File.WriteAllLinesAsync(chaosFile, testChaos.Select(p => $"{p.Value}\t{p.Key}"), cancellationToken).ConfigureAwait(false);
        }

        var environment = Environment(request, orderFile, chaosFile);
        environment[DeflakeEnvironment.Activity] = ActivityPath(number);
        return environment;
    }

    /// <summary>What the run's test process reported about Deflake databases; null when it reported nothing.</summary>
    public async Task<DatabaseActivity?> ReadActivityAsync(int number, CancellationToken cancellationToken)
    {
        var path = ActivityPath(number);
        return File.Exists(path) ? DatabaseActivity.Parse(await File.ReadAllLinesAsync(path, cancellationToken).ConfigureAwait(false)) : null;
    }

    /// <summary>The run's DEFLAKE_* settings (null: unset); for a process started ahead (no request), all unset.</summary>
    public static Dictionary<string, string?> Environment(RunRequest? request, string? orderFile = null, string? chaosFile = null)
    {
        var environment = DeflakeEnvironmentOf(request, orderFile, chaosFile);

        // Environment chaos (culture, timezone): the process's own variables, whatever the framework.
        foreach (var (name, value) in request is null ? [] : EnvironmentChaos.Variables(request))
        {
            environment[name] = value;
        }

        return environment;
    }

    private static Dictionary<string, string?> DeflakeEnvironmentOf(RunRequest? request, string? orderFile, string? chaosFile) => new(StringComparer.Ordinal)
    {
        [DeflakeEnvironment.StartGate] = null,
        [DeflakeEnvironment.Chaos] = request is null ? null : EnvironmentChaos.DatabaseChaos(request),
        [DeflakeEnvironment.ChaosTests] = chaosFile,
        [DeflakeEnvironment.Seed] = request?.Seed.ToString(CultureInfo.InvariantCulture),
        [DeflakeEnvironment.Activity] = null,
        [DeflakeEnvironment.Order] = orderFile ?? request?.Order switch
        {
            RunOrderKind.Random => "random",
            RunOrderKind.Reverse => "reverse",
            _ => null,
        },
    };

    /// <summary>
    /// The start of a printed command: <c>printf … &gt; file &amp;&amp;</c> for the order and chaos files it needs
    /// (written in the shell's folder and named as <c>"$PWD/…"</c>, absolute when the line runs, so a test process
    /// that runs elsewhere still finds them), then the <c>DEFLAKE_*</c> assignments, ending in a space.
    /// </summary>
    public static string ReproducePrefix(RunRequest request, IEnumerable<(string Name, string Content)>? extraFiles = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        var environment = EnvironmentChaos.Variables(request).Select(v => $"{v.Key}={Shell.Quote(v.Value)}").ToList();
        if (EnvironmentChaos.DatabaseChaos(request) is { } chaos && chaos != "none")
        {
            environment.Add($"{DeflakeEnvironment.Chaos}={Shell.Quote(chaos)}");
        }

        environment.Add($"{DeflakeEnvironment.Seed}={request.Seed.ToString(CultureInfo.InvariantCulture)}");
        var prefix = string.Empty;
        if (request.TestChaos is { Count: > 0 } testChaos)
        {
            prefix = $"printf '%s\\t%s\\n' {string.Join(' ', testChaos.SelectMany(p => new[] { Shell.Quote(p.Value), Shell.Quote(p.Key) }))} > {ChaosFileName} && ";
            environment.Add($"{DeflakeEnvironment.ChaosTests}={Shell.InCurrentDirectory(ChaosFileName)}");
        }

        if (request.Tests is not null)
        {
            prefix += $"printf '%s\\n' {string.Join(' ', request.Tests.Select(Shell.Quote))} > {OrderFileName} && ";
            environment.Add($"{DeflakeEnvironment.Order}={Shell.InCurrentDirectory(OrderFileName)}");
        }
        else if (request.Order is RunOrderKind.Random or RunOrderKind.Reverse)
        {
            environment.Add($"{DeflakeEnvironment.Order}={(request.Order == RunOrderKind.Random ? "random" : "reverse")}");
        }

        foreach (var (name, content) in extraFiles ?? [])
        {
            prefix += $"printf '%s\\n' {Shell.Quote(content)} > {name} && ";
        }

        return prefix + string.Join(' ', environment) + " ";
    }

    /// <summary>Whether a file name is one a runner writes in its work folder: order, chaos, activity, settings and results files.</summary>
    public static bool IsWorkFile(string fileName) => WorkFileName().IsMatch(fileName);

    [GeneratedRegex(@"^(order-\d{4,}\.txt|chaos-\d{4,}\.txt|activity-\d{4,}\.txt|run-\d{4,}\.(xml|trx)|settings-\d{4,}\.runsettings|config-\d{4,}\.json)$", RegexOptions.CultureInvariant)]
    private static partial Regex WorkFileName();
}
