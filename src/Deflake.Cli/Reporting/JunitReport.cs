using System.Globalization;
using System.Xml.Linq;
using Deflake.Cli.Hunting;

namespace Deflake.Cli.Reporting;

/// <summary>
/// The hunt as JUnit XML, the format every CI reads into its test tab: one test case per finding (its failure says the
/// cause, the evidence and the reproduce command), one per test that failed in every run, and one passing case when
/// the hunt found nothing, so a clean hunt shows as a pass rather than as an empty report.
/// </summary>
internal static class JunitReport
{
    /// <summary>The name of the test suite and of the case a clean hunt reports.</summary>
    public const string SuiteName = "deflake hunt";

    /// <summary>Builds the document of a hunt.</summary>
    public static XDocument Render(HuntOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var cases = new List<XElement>();
        foreach (var finding in outcome.Findings)
        {
            var (className, name) = Split(finding.Test);
            var body = string.Join('\n', new[]
            {
                $"{finding.Test}: {finding.Cause}{Partner(finding)}",
                finding.Evidence,
                FlakeCause.Advice(finding.Cause),
                finding.Message is { Length: > 0 } message ? $"Failure seen: {message}" : null,
                $"Reproduce: {finding.Reproduce}",
            }.Where(line => line is not null));
            cases.Add(new XElement("testcase",
                new XAttribute("classname", className),
                new XAttribute("name", name),
                new XAttribute("time", "0"),
                new XElement("failure",
                    new XAttribute("type", finding.Cause),
                    new XAttribute("message", $"flaky: {finding.Cause}{Partner(finding)}"),
                    body)));
        }

        foreach (var test in outcome.AlwaysFailing)
        {
            var (className, name) = Split(test);
            cases.Add(new XElement("testcase",
                new XAttribute("classname", className),
                new XAttribute("name", name),
                new XAttribute("time", "0"),
                new XElement("failure",
                    new XAttribute("type", "always-failing"),
                    new XAttribute("message", "failed in every run: broken, not flaky"),
                    $"{test} failed in every run of the hunt, in every order and mode: it is broken, not flaky. Run it on its own to see why.")));
        }

        if (cases.Count == 0)
        {
            cases.Add(new XElement("testcase",
                new XAttribute("classname", SuiteName),
                new XAttribute("name", $"no flaky tests among {outcome.TestCount.ToString(CultureInfo.InvariantCulture)} tests"),
                new XAttribute("time", Seconds(outcome.Duration))));
        }

        var failures = outcome.Findings.Count + outcome.AlwaysFailing.Count;
        var properties = new XElement("properties",
            Property("seed", outcome.Seed.ToString(CultureInfo.InvariantCulture)),
            Property("project", outcome.Project),
            Property("modes", outcome.Modes.Count == 0 ? "none" : string.Join(',', outcome.Modes)),
            Property("checkedModes", string.Join(',', outcome.CheckedModes)),
            Property("uncheckedModes", string.Join(',', outcome.UncheckedModes)),
            Property("runs", outcome.Runs.Count.ToString(CultureInfo.InvariantCulture)));
        var suite = new XElement("testsuite",
            new XAttribute("name", SuiteName),
            new XAttribute("tests", cases.Count),
            new XAttribute("failures", failures),
            new XAttribute("errors", 0),
            new XAttribute("skipped", 0),
            new XAttribute("timestamp", outcome.Started.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture)),
            new XAttribute("time", Seconds(outcome.Duration)),
            properties,
            cases);
        return new XDocument(new XDeclaration("1.0", "utf-8", null),
            new XElement("testsuites",
                new XAttribute("name", SuiteName),
                new XAttribute("tests", cases.Count),
                new XAttribute("failures", failures),
                new XAttribute("errors", 0),
                new XAttribute("time", Seconds(outcome.Duration)),
                suite));
    }

    /// <summary>Writes a hunt's JUnit XML to <paramref name="path"/>, creating its folder.</summary>
    public static async Task WriteAsync(HuntOutcome outcome, string path, CancellationToken cancellationToken = default)
    {
        ReportFiles.PrepareFolder(path);
        var stream = File.Create(path);
        await using (stream.ConfigureAwait(false))
        {
            await Render(outcome).SaveAsync(stream, SaveOptions.None, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The class and method of a test id (<c>Namespace.Class.Method</c>, theory arguments kept with the method).</summary>
    internal static (string ClassName, string Name) Split(string test)
    {
        var arguments = test.IndexOf('(', StringComparison.Ordinal);
        var dot = (arguments < 0 ? test : test[..arguments]).LastIndexOf('.');
        return dot <= 0 ? (SuiteName, test) : (test[..dot], test[(dot + 1)..]);
    }

    private static string Partner(Finding finding)
        => finding.Polluter is not null
            ? (finding.Cause == FlakeCause.ParallelCollision ? $", collides with {finding.Polluter}" : $", polluted by {string.Join(", ", finding.Polluters)}")
            : finding.StateSetter is not null ? $", brittle: passes only after {string.Join(", ", finding.StateSetters)}" : string.Empty;

    private static XElement Property(string name, string value) => new("property", new XAttribute("name", name), new XAttribute("value", value));

    private static string Seconds(TimeSpan duration) => duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
}

/// <summary>What every report file writer does before writing.</summary>
internal static class ReportFiles
{
    /// <summary>Creates the folder a report goes to.</summary>
    public static void PrepareFolder(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
    }
}
