using System.Globalization;
using Deflake.Cli.Hunting;
using Deflake.Cli.Running;
using Spectre.Console;

namespace Deflake.Cli.Reporting;

/// <summary>Live progress lines while a hunt runs, and the summary table at the end.</summary>
internal sealed class ConsoleProgress(IAnsiConsole console) : IHuntProgress
{
    /// <summary>The live status line, while one is shown.</summary>
    public StatusContext? Context { get; set; }

    public void Status(string text)
    {
        Context?.Status(Markup.Escape(text));
    }

    public void RunFinished(RunResult run, bool survey)
    {
        var seconds = run.Duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
        var failed = run.Failed == 0 ? "[green]0 failed[/]" : $"[red]{run.Failed} failed[/]";
        if (survey)
        {
            var line = string.Create(CultureInfo.InvariantCulture, $"  {(run.Failed == 0 ? "[green]✓[/]" : "[red]✗[/]")} {Markup.Escape(run.Request.Name),-18} {run.Passed,4} passed  {failed}  [grey]{seconds} s[/]");
            if (IdentityCoverage.NotCovered([run]) is { Count: > 0 } notCovered)
            {
                // The tick must not claim more than was checked: the tables are named under the summary.
                line += $"  [yellow]{IdentityCoverage.Tables(notCovered.Count)} not covered (named at the end)[/]";
            }

            if (run.ChaosReached == false && run.Activity?.NothingChecked is { } why)
            {
                // On the run's own line, unwrapped: the line that says the mode was run says it checked nothing.
                console.Markup(line + "  ");
                ConsoleReport.WriteCommand(console, string.Empty, $"{run.Request.Name}: {why}", "33");
            }
            else
            {
                console.MarkupLine(line);
            }
        }
        else
        {
            var what = run.Request.Tests is { Count: > 0 } tests ? $"{tests.Count} test{(tests.Count == 1 ? string.Empty : "s")}" : "all tests";
            console.MarkupLine(CultureInfo.InvariantCulture, $"    [grey]{Markup.Escape(run.Request.Name)} ({what}): {run.Passed} passed, {run.Failed} failed, {seconds} s[/]");
        }
    }

    public void Found(Finding finding)
    {
        ArgumentNullException.ThrowIfNull(finding);
        var relation = finding.Cause == FlakeCause.ParallelCollision && finding.Polluter is not null ? $" with partner {finding.Polluter}"
            : finding.Polluters.Count > 0 ? $" after {string.Join(", ", finding.Polluters)}"
            : finding.StateSetter is not null ? $" (brittle: passes only after {string.Join(", ", finding.StateSetters)})"
            : string.Empty;
        ConsoleReport.WriteWrapped(console, $"{finding.Test}: {finding.Cause}{relation}", "  → ", "    ");
        // Its diagnosis is over: the live status line no longer speaks of it.
        Context?.Status("hunting");
    }
}

/// <summary>The end-of-hunt summary, readable in a terminal as narrow as 100 columns: wrapped at spaces, test ids never cut.</summary>
internal static class ConsoleReport
{
    public static void WriteSummary(IAnsiConsole console, HuntOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(outcome);
        console.WriteLine();
        if (outcome.Findings.Count == 0 && outcome.AlwaysFailing.Count == 0)
        {
            console.MarkupLine(CultureInfo.InvariantCulture, $"[green bold]No flaky tests[/] among {outcome.TestCount} tests in {RunCounts(outcome)} ({outcome.Duration.TotalSeconds:0.0} s, seed {outcome.Seed}).");
            WriteChecked(console, outcome);
            return;
        }

        console.MarkupLine($"[bold]{outcome.Findings.Count} flaky test{(outcome.Findings.Count == 1 ? string.Empty : "s")}[/]");
        foreach (var finding in outcome.Findings)
        {
            console.WriteLine();
            WriteFinding(console, finding, outcome.Seed);
        }

        if (outcome.AlwaysFailing.Count > 0)
        {
            console.WriteLine();
        }

        foreach (var test in outcome.AlwaysFailing)
        {
            console.Markup("[red]fails every time, alone too (not flaky):[/]");
            console.WriteLine();
            WriteWrapped(console, test, "  ");
        }

        console.WriteLine();
        WriteWrapped(console, string.Create(CultureInfo.InvariantCulture,
            $"{outcome.TestCount} tests, {RunCounts(outcome)}, {outcome.Duration.TotalSeconds:0.0} s, seed {outcome.Seed} (replay with --seed {outcome.Seed}). Full evidence and every step: --json or --html."));
        WriteChecked(console, outcome);
    }

    /// <summary>
    /// One finding: the test, its cause, who is involved (labelled polluter, partner or state-setter), the failure, the
    /// evidence in one short sentence, the advice, and the reproduce command on one unwrapped line.
    /// </summary>
    internal static void WriteFinding(IAnsiConsole console, Finding finding, int seed)
    {
        WriteWrapped(console, finding.Test);
        var role = finding.Cause != FlakeCause.TestOrder ? string.Empty : finding.StateSetter is not null ? " (brittle)" : " (polluted)";
        WriteWrapped(console, finding.Cause + role, "  cause: ");
        if (finding.Cause == FlakeCause.ParallelCollision && finding.Polluter is not null)
        {
            WriteWrapped(console, finding.Polluter, "  partner: ");
        }
        else if (finding.Polluters.Count > 0)
        {
            WriteList(console, finding.Polluters.Count == 1 ? "  polluter: " : "  polluters: ", finding.Polluters);
        }
        else if (finding.StateSetters.Count > 0)
        {
            WriteList(console, finding.StateSetters.Count == 1 ? "  state-setter: " : "  state-setters: ", finding.StateSetters);
        }

        if (finding.Message is { Length: > 0 } message)
        {
            WriteWrapped(console, message.Split('\n')[0], "  failure: ");
        }

        WriteWrapped(console, ConsoleText.ShortEvidence(finding, seed), "  evidence: ");
        WriteWrapped(console, FlakeCause.Advice(finding.Cause), "  advice: ");
        WriteCommand(console, "  reproduce: ", finding.Reproduce);
    }

    private static void WriteList(IAnsiConsole console, string label, IReadOnlyList<string> tests)
    {
        for (var i = 0; i < tests.Count; i++)
        {
            WriteWrapped(console, tests[i], i == 0 ? label : new string(' ', label.Length));
        }
    }

    /// <summary>Writes text wrapped at spaces to the console's width, as plain text (never read as markup).</summary>
    internal static void WriteWrapped(IAnsiConsole console, string text, string first = "", string? indent = null)
    {
        var width = Math.Max(40, console.Profile.Width);
        foreach (var line in ConsoleText.Wrap(text, width, first, indent))
        {
            if (line.Length <= width)
            {
                console.WriteLine(line);
            }
            else
            {
                // A test id longer than the line: whole on its own line, past the edge (the terminal folds it), never
                // cut by the console's own wrapping.
                var writer = console.Profile.Out.Writer;
                writer.WriteLine(line);
                writer.Flush();
            }
        }
    }

    /// <summary>
    /// Which chaos modes the hunt checked, and which it could not (no test used a Deflake database under them); then the
    /// tables <c>identities</c> could not cover, once each whatever the number of runs and processes that reported them.
    /// </summary>
    private static void WriteChecked(IAnsiConsole console, HuntOutcome outcome)
    {
        if (outcome.Modes.Count == 0)
        {
            return;
        }

        var notChecked = outcome.UncheckedModes;
        var checkedModes = outcome.CheckedModes;
        console.MarkupLine(notChecked.Count == 0
            ? $"Chaos modes checked: {Markup.Escape(string.Join(", ", checkedModes))}."
            : $"Chaos modes checked: {(checkedModes.Count == 0 ? "none" : Markup.Escape(string.Join(", ", checkedModes)))}; [yellow]not checked: {Markup.Escape(string.Join(", ", notChecked))}[/] (no test used a Deflake database under {(notChecked.Count == 1 ? "it" : "them")}).");
        foreach (var sentence in IdentityCoverage.Sentences(IdentityCoverage.NotCovered(outcome.Runs)))
        {
            // Wrapped at spaces: a table's name is never cut.
            WriteWrapped(console, sentence);
        }
    }

    /// <summary>
    /// Writes a command for the user to run on one line, never wrapped to the console's width (a wrapped command does
    /// not work when pasted): straight to the console's writer, in cyan (or the ANSI <paramref name="colour"/> code) where
    /// the console shows colours.
    /// </summary>
    internal static void WriteCommand(IAnsiConsole console, string label, string command, string colour = "36")
    {
        console.Markup(Markup.Escape(label));
        var writer = console.Profile.Out.Writer;
        writer.WriteLine(console.Profile.Capabilities.Ansi ? $"\u001b[{colour}m{command}\u001b[0m" : command);
        writer.Flush();
    }

    /// <summary>"12 runs: 7 survey, 4 diagnosis, 1 bisection".</summary>
    internal static string RunCounts(HuntOutcome outcome)
    {
        var bisection = outcome.Runs.Skip(outcome.SurveyRunCount).Count(r => r.Request.Name.StartsWith("bisect", StringComparison.Ordinal));
        var diagnosis = outcome.Runs.Count - outcome.SurveyRunCount - bisection;
        return string.Create(CultureInfo.InvariantCulture,
            $"{outcome.Runs.Count} runs: {outcome.SurveyRunCount} survey, {diagnosis} diagnosis, {bisection} bisection");
    }
}
