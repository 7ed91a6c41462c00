using System.Globalization;
using System.Text;
using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

namespace Deflake.Cli.Reporting;

/// <summary>
/// The hunt as Markdown: a table of findings and, per finding, its evidence, advice and reproduce command. Written to
/// <c>--markdown FILE</c>, and appended to <c>$GITHUB_STEP_SUMMARY</c> when GitHub Actions sets it (the job's summary page).
/// </summary>
internal static class MarkdownReport
{
    /// <summary>The variable GitHub Actions sets to the file a step's summary is appended to.</summary>
    public const string StepSummaryVariable = "GITHUB_STEP_SUMMARY";

    /// <summary>Renders a hunt.</summary>
    public static string Render(HuntOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var text = new StringBuilder();
        var flaky = outcome.Findings.Count;
        text.Append("## deflake hunt: ")
            .Append(flaky == 0 && outcome.AlwaysFailing.Count == 0 ? "no flaky tests" : $"{flaky} flaky test{(flaky == 1 ? string.Empty : "s")}")
            .Append(outcome.AlwaysFailing.Count > 0 ? $", {outcome.AlwaysFailing.Count} failing every run" : string.Empty)
            .Append("\n\n");
        text.Append(CultureInfo.InvariantCulture,
            $"{Cell(outcome.Project)}: {outcome.TestCount} tests, {ConsoleReport.RunCounts(outcome)}, {outcome.Duration.TotalSeconds:0.0} s, seed **{outcome.Seed}** (replay with `--seed {outcome.Seed}`).");
        text.Append(" Chaos modes checked: ").Append(outcome.CheckedModes.Count == 0 ? "none" : string.Join(", ", outcome.CheckedModes)).Append('.');
        if (outcome.UncheckedModes.Count > 0)
        {
            text.Append(" **Not checked** (no test used a Deflake database under them): ").Append(string.Join(", ", outcome.UncheckedModes)).Append('.');
        }

        foreach (var sentence in IdentityCoverage.Sentences(IdentityCoverage.NotCovered(outcome.Runs)))
        {
            // A paragraph of its own: what the tick for identities does not claim.
            text.Append("\n\n").Append(Cell(sentence));
        }

        text.Append("\n\n");
        if (flaky > 0)
        {
            text.Append("| Test | Cause | Polluter, partner or state-setter |\n|---|---|---|\n");
            foreach (var finding in outcome.Findings)
            {
                var partner = finding.Polluter is not null
                    ? (finding.Cause == FlakeCause.ParallelCollision ? $"partner: {string.Join(", ", finding.Polluters.DefaultIfEmpty(finding.Polluter))}" : $"polluter: {string.Join(", ", finding.Polluters)}")
                    : finding.StateSetter is not null ? $"state-setter: {string.Join(", ", finding.StateSetters)} (brittle)" : string.Empty;
                text.Append(CultureInfo.InvariantCulture, $"| `{Cell(finding.Test)}` | {finding.Cause} | {Cell(partner)} |\n");
            }

            text.Append('\n');
            foreach (var finding in outcome.Findings)
            {
                text.Append(CultureInfo.InvariantCulture, $"### `{Cell(finding.Test)}`: {finding.Cause}\n\n");
                text.Append(finding.Evidence).Append("\n\n");
                text.Append('*').Append(FlakeCause.Advice(finding.Cause)).Append("*\n\n");
                text.Append("```sh\n").Append(finding.Reproduce).Append("\n```\n\n");
            }
        }

        foreach (var test in outcome.AlwaysFailing)
        {
            text.Append(CultureInfo.InvariantCulture, $"- `{Cell(test)}` failed in every run, alone too: broken, not flaky.\n");
        }

        return text.ToString();
    }

    /// <summary>Writes the report to <paramref name="path"/>; <paramref name="append"/> adds it to what the file holds.</summary>
    public static async Task WriteAsync(HuntOutcome outcome, string path, bool append, CancellationToken cancellationToken = default)
    {
        ReportFiles.PrepareFolder(path);
        var text = Render(outcome);
        if (append)
        {
            await File.AppendAllTextAsync(path, text, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await File.WriteAllTextAsync(path, text, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Text safe inside a table cell or inline code: no pipes or line breaks.</summary>
    private static string Cell(string value) => value.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal).Replace("`", "'", StringComparison.Ordinal);
}
