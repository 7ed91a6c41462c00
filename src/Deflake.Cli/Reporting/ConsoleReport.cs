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
        var relation = finding.Cause == FlakeCause.ParallelCollision ? "with" : "after";
        var polluter = finding.Polluter is not null ? $" {relation} [yellow]{Markup.Escape(string.Join(", ", finding.Polluters.DefaultIfEmpty(finding.Polluter)))}[/]"
            : finding.StateSetter is not null ? $" (brittle: passes only after [yellow]{Markup.Escape(string.Join(", ", finding.StateSetters))}[/])" : string.Empty;
        console.MarkupLine($"  [bold]→[/] {Markup.Escape(finding.Test)}: [bold]{Markup.Escape(finding.Cause)}[/]{polluter}");
    }
}

/// <summary>The end-of-hunt summary.</summary>
internal static class ConsoleReport
{
    public static void WriteSummary(IAnsiConsole console, HuntOutcome outcome)
    {
        console.WriteLine();
        if (outcome.Findings.Count == 0 && outcome.AlwaysFailing.Count == 0)
        {
            console.MarkupLine(CultureInfo.InvariantCulture, $"[green bold]No flaky tests[/] among {outcome.TestCount} tests in {RunCounts(outcome)} ({outcome.Duration.TotalSeconds:0.0} s, seed {outcome.Seed}).");
            WriteChecked(console, outcome);
            return;
        }

        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]{outcome.Findings.Count} flaky test{(outcome.Findings.Count == 1 ? string.Empty : "s")}[/]");
        table.AddColumn("test");
        table.AddColumn("cause");
        table.AddColumn("polluter");
        foreach (var finding in outcome.Findings)
        {
            table.AddRow(Markup.Escape(finding.Test), $"[bold]{Markup.Escape(finding.Cause)}[/]", Markup.Escape(finding.Polluter ?? (finding.StateSetter is { } setter ? $"(brittle) needs {setter}" : "-")));
        }

        console.Write(table);
        foreach (var finding in outcome.Findings)
        {
            console.MarkupLine($"[bold]{Markup.Escape(finding.Test)}[/] [grey]({Markup.Escape(finding.Cause)})[/]");
            console.MarkupLine($"  [grey]{Markup.Escape(finding.Evidence)}[/]");
            WriteCommand(console, "  reproduce: ", finding.Reproduce);
        }

        foreach (var test in outcome.AlwaysFailing)
        {
            console.MarkupLine($"[red]fails every time, alone too (not flaky):[/] {Markup.Escape(test)}");
        }

        console.MarkupLine(CultureInfo.InvariantCulture, $"{outcome.TestCount} tests, {RunCounts(outcome)}, {outcome.Duration.TotalSeconds:0.0} s, seed [bold]{outcome.Seed}[/] (replay with --seed {outcome.Seed}).");
        WriteChecked(console, outcome);
    }

    /// <summary>Which chaos modes the hunt checked, and which it could not (no test used a Deflake database under them).</summary>
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
