using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

namespace Deflake.Cli.Reporting;

/// <summary>
/// The console's text: wrapped on word boundaries to the terminal's width (a test id is never cut: one longer than a
/// line stands alone on its own), and a finding's evidence in one short sentence, in the order things happened.
/// </summary>
internal static partial class ConsoleText
{
    /// <summary>
    /// Wraps <paramref name="text"/> at spaces so that each line, with its indent, fits <paramref name="width"/>; a
    /// word longer than that stands alone on its line, whole. The first line starts with <paramref name="first"/>
    /// (its label), the others with <paramref name="indent"/>.
    /// </summary>
    public static IReadOnlyList<string> Wrap(string text, int width, string first = "", string? indent = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        indent ??= new string(' ', first.Length);
        var lines = new List<string>();
        var line = new StringBuilder(first);
        var empty = true;
        foreach (var word in text.Split((char[]?)[' ', '\n'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (!empty && line.Length + 1 + word.Length > width)
            {
                lines.Add(line.ToString());
                line.Clear().Append(indent);
                empty = true;
            }

            line.Append(empty ? string.Empty : " ").Append(word);
            empty = false;
        }

        lines.Add(line.ToString().TrimEnd());
        return lines;
    }

    /// <summary>
    /// The finding's evidence in one short sentence, in the order things happened (what the survey and the runs
    /// alone showed, then what the runs made to explain it showed, then how it was confirmed). The full evidence,
    /// with every run it rests on, is in the JSON and HTML reports.
    /// </summary>
    public static string ShortEvidence(Finding finding, int seed)
    {
        ArgumentNullException.ThrowIfNull(finding);
        var confirmed = string.Create(CultureInfo.InvariantCulture, $"each seen {OrderEvidence.Confirmations} times");
        switch (finding.Cause)
        {
            case FlakeCause.IdentityAlignment:
            case FlakeCause.RowOrder:
            case FlakeCause.Culture:
            case FlakeCause.TimeZone:
                var mode = ModeOf(finding.Cause);
                var under = EnvironmentChaos.IsEnvironmentMode(mode) ? EnvironmentChaos.Label(mode, seed) : $"chaos {mode}";
                return string.Create(CultureInfo.InvariantCulture, $"Passed without chaos; failed under {under} {ChaosEvidence.Confirmations} times with one seed.");
            case FlakeCause.TestOrder when finding.StateSetter is not null:
                return $"Failed alone; passed after its state-setter; {confirmed}.";
            case FlakeCause.TestOrder:
                return finding.Polluters.Count > 1
                    ? string.Create(CultureInfo.InvariantCulture, $"Passed alone; failed after each of its {finding.Polluters.Count} polluters; {confirmed}.")
                    : $"Passed alone; failed after its polluter; {confirmed}.";
            case FlakeCause.ParallelCollision:
                return finding.Polluter is null
                    ? "Passed one at a time; failed only when tests ran in parallel."
                    : "Passed one at a time; failed when run in parallel with its partner.";
            default:
                return FailureRate().Match(finding.Evidence) is { Success: true } rate
                    ? $"Failed with nothing changed; it {rate.Value}."
                    : "Failed with nothing changed, and did not fail again in the runs made to explain it.";
        }
    }

    /// <summary>The chaos mode that exposes a cause.</summary>
    private static string ModeOf(string cause) => cause switch
    {
        FlakeCause.IdentityAlignment => "identities",
        FlakeCause.RowOrder => "rows",
        FlakeCause.Culture => EnvironmentChaos.Culture,
        _ => EnvironmentChaos.TimeZone,
    };

    [GeneratedRegex(@"failed \d+ of \d+ runs?( without chaos)?", RegexOptions.CultureInvariant)]
    private static partial Regex FailureRate();
}
