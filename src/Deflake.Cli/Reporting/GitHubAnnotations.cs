using System.Text;
using Deflake.Cli.Hunting;

namespace Deflake.Cli.Reporting;

/// <summary>
/// GitHub Actions workflow commands (<c>::error file=…,line=…,title=…::message</c>): one annotation per finding, on the
/// test method's line when its source location is known, so the pull request shows it beside the code. Written only when
/// <c>GITHUB_ACTIONS=true</c>.
/// </summary>
internal static class GitHubAnnotations
{
    /// <summary>The variable GitHub Actions sets to <c>true</c> in every step.</summary>
    public const string ActionsVariable = "GITHUB_ACTIONS";

    /// <summary>The variable naming the checkout folder; annotation paths are made relative to it.</summary>
    public const string WorkspaceVariable = "GITHUB_WORKSPACE";

    /// <summary>Whether the process runs in a GitHub Actions step.</summary>
    public static bool Enabled => string.Equals(Environment.GetEnvironmentVariable(ActionsVariable), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The annotation lines of a hunt, one per finding and per test that failed every run.</summary>
    public static IReadOnlyList<string> Render(HuntOutcome outcome, SourceLocations locations, string? workspace)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        ArgumentNullException.ThrowIfNull(locations);
        var lines = new List<string>();
        foreach (var finding in outcome.Findings)
        {
            var partner = finding.Polluter is not null
                ? (finding.Cause == FlakeCause.ParallelCollision ? $" (collides with {finding.Polluter})" : $" (polluted by {string.Join(", ", finding.Polluters)})")
                : finding.StateSetter is not null ? $" (brittle: passes only after {string.Join(", ", finding.StateSetters)})" : string.Empty;
            var message = $"{finding.Test}: {finding.Cause}{partner}\n{finding.Evidence}\n{FlakeCause.Advice(finding.Cause)}\nReproduce: {finding.Reproduce}\n(deflake hunt, seed {outcome.Seed})";
            lines.Add(Line(locations.Find(finding.Test), workspace, $"Flaky test ({finding.Cause})", message));
        }

        foreach (var test in outcome.AlwaysFailing)
        {
            lines.Add(Line(locations.Find(test), workspace, "Broken test (fails every run)",
                $"{test} failed in every run of the hunt, in every order and mode: it is broken, not flaky."));
        }

        return lines;
    }

    /// <summary>Writes the annotations of a hunt to <paramref name="output"/>, one per line.</summary>
    public static void Write(TextWriter output, HuntOutcome outcome, SourceLocations locations, string? workspace)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (var line in Render(outcome, locations, workspace))
        {
            output.WriteLine(line);
        }

        output.Flush();
    }

    private static string Line(SourceLocation? location, string? workspace, string title, string message)
    {
        var properties = new StringBuilder();
        if (location is not null)
        {
            properties.Append("file=").Append(EscapeProperty(RelativeTo(workspace, location.File)))
                .Append(",line=").Append(location.Line.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(',');
        }

        properties.Append("title=").Append(EscapeProperty(title));
        return $"::error {properties}::{EscapeData(message)}";
    }

    /// <summary>A path relative to the workspace when it lies inside it (what GitHub matches against the diff), else as is.</summary>
    internal static string RelativeTo(string? workspace, string file)
    {
        if (string.IsNullOrEmpty(workspace))
        {
            return file;
        }

        var relative = Path.GetRelativePath(workspace, file);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? file : relative.Replace('\\', '/');
    }

    /// <summary>Escapes a message: GitHub reads <c>%</c>, CR and LF specially.</summary>
    internal static string EscapeData(string value)
        => value.Replace("%", "%25", StringComparison.Ordinal).Replace("\r", "%0D", StringComparison.Ordinal).Replace("\n", "%0A", StringComparison.Ordinal);

    /// <summary>Escapes a property value: as a message, plus <c>:</c> and <c>,</c>, which end properties.</summary>
    internal static string EscapeProperty(string value)
        => EscapeData(value).Replace(":", "%3A", StringComparison.Ordinal).Replace(",", "%2C", StringComparison.Ordinal);
}
