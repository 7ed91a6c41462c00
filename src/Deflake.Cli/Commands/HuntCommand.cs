using System.CommandLine;
using Deflake.Cli.Hunting;
using Deflake.Cli.Reporting;
using Deflake.Cli.Running;
using Spectre.Console;

namespace Deflake.Cli.Commands;

/// <summary>Settings of <c>deflake hunt</c>.</summary>
/// <param name="Project">The test project (null: the current directory).</param>
/// <param name="Runs">How many seeded random orders to run.</param>
/// <param name="Modes">The chaos modes to run under.</param>
/// <param name="Seed">The seed (null: a fresh one).</param>
/// <param name="Json">Where to write the JSON report, if anywhere.</param>
/// <param name="Html">Where to write the HTML report, if anywhere.</param>
/// <param name="TimeoutMinutes">Minutes one run may take.</param>
/// <param name="ColdStart">Start each run's process only when the run begins (no warm start).</param>
/// <param name="Junit">Where to write the JUnit XML report, if anywhere.</param>
/// <param name="Markdown">Where to write the Markdown summary, if anywhere (besides <c>$GITHUB_STEP_SUMMARY</c>).</param>
/// <param name="Filter">The part of the suite to hunt, in <c>dotnet test --filter</c> syntax (null: every test).</param>
internal sealed record HuntSettings(string? Project, int Runs, IReadOnlyList<string> Modes, int? Seed, string? Json, string? Html, int TimeoutMinutes, bool ColdStart = false,
    string? Junit = null, string? Markdown = null, string? Filter = null);

/// <summary><c>deflake hunt</c>: finds every flaky test, names its cause and polluter, and how to replay it.</summary>
internal sealed class HuntCommand(CommandContext context)
{
    private static readonly Argument<string?> ProjectArgument = CommonOptions.Project();

    private static readonly Option<int> RunsOption = new("--runs")
    {
        Description = "How many seeded random orders to run (besides baseline, reverse and one run per chaos mode); default 5: a test failing 30% of the time is then missed in 4% of hunts.",
        DefaultValueFactory = _ => HuntOptions.DefaultRandomOrders,
        CustomParser = result => CommonOptions.WholeNumber(result, "5"),
    };

    private static readonly Option<string[]> ModesOption = new("--modes")
    {
        Description = "Chaos modes to run under: identities, rows (databases), culture, timezone (the test process's environment), all, none (comma-separated or repeated).",
        DefaultValueFactory = _ => [.. HuntOptions.DefaultModes],
        AllowMultipleArgumentsPerToken = true,
    };

    private static readonly Option<int?> SeedOption = CommonOptions.Seed();

    private static readonly Option<string?> JsonOption = new("--json") { Description = "Write the JSON report (contract in docs/hunt.md) to this file." };

    private static readonly Option<string?> HtmlOption = new("--html") { Description = "Write a self-contained HTML report to this file." };

    private static readonly Option<string?> JunitOption = new("--junit")
    {
        Description = "Write a JUnit XML report to this file (one test case per finding, with its cause, evidence and reproduce command) for a CI's test tab.",
    };

    private static readonly Option<string?> MarkdownOption = new("--markdown")
    {
        Description = "Write a Markdown summary to this file (under GitHub Actions it is also appended to $GITHUB_STEP_SUMMARY).",
    };

    private static readonly Option<string?> FilterOption = new("--filter")
    {
        Description = "Hunt part of the suite, as 'dotnet test --filter' selects it: FullyQualifiedName~Shop.Cart, ClassName=Shop.CartTests, Name=Adds_an_item, "
            + "Namespace=Shop, Category=Slow (any trait), with =, !=, ~, !~, joined by & and |.",
    };

    private static readonly Option<int> TimeoutOption = CommonOptions.Timeout();

    private static readonly Option<bool> ColdStartOption = CommonOptions.ColdStart();

    /// <summary>The command line definition.</summary>
    public static Command Create(CommandContext context)
    {
        var command = new Command("hunt",
            "Find every flaky test in an xUnit v3, xUnit v2, NUnit or MSTest project: run it under chaos modes, seeded random and reverse orders, in parallel and one at a time; "
            + "then name each failing test's cause (identity-alignment, row-order, culture, time-zone, test-order, parallel-collision, nondeterministic), bisect to its polluter, and print how to reproduce it.")
        {
            ProjectArgument, RunsOption, ModesOption, SeedOption, FilterOption, JsonOption, HtmlOption, JunitOption, MarkdownOption, TimeoutOption, ColdStartOption,
        };
        RunsOption.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && int.TryParse(r.Tokens[0].Value, System.Globalization.CultureInfo.InvariantCulture, out var runs) && runs is < 0 or > 100)
            {
                r.AddError("--runs must be between 0 and 100.");
            }
        });
        command.SetAction((parse, cancellationToken) => new HuntCommand(context).ExecuteAsync(Bind(parse), cancellationToken));
        return command;
    }

    internal static HuntSettings Bind(ParseResult parse) => new(
        parse.GetValue(ProjectArgument),
        parse.GetValue(RunsOption),
        ParseModes(parse.GetValue(ModesOption) ?? []),
        parse.GetValue(SeedOption),
        parse.GetValue(JsonOption),
        parse.GetValue(HtmlOption),
        parse.GetValue(TimeoutOption),
        parse.GetValue(ColdStartOption),
        parse.GetValue(JunitOption),
        parse.GetValue(MarkdownOption),
        // Parsed here too, so that a filter it cannot read is a usage error before anything builds.
        parse.GetValue(FilterOption) is { } filter ? TestFilter.Parse(filter).Text : null);

    /// <summary>Parses mode names (comma lists, repeated) into a distinct list of single modes.</summary>
    /// <exception cref="CliException">An unknown mode (exit code 2).</exception>
    internal static IReadOnlyList<string> ParseModes(IEnumerable<string> values)
    {
        var words = values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(w => w.ToLowerInvariant()).ToArray();
        ChaosModes modes;
        try
        {
            // The database modes are Deflake's own DEFLAKE_CHAOS; culture and timezone are the test process's environment.
            modes = ChaosModeNames.Parse(string.Join(',', words.Where(w => !EnvironmentChaos.IsEnvironmentMode(w))), "--modes");
        }
        catch (DeflakeConfigurationException ex)
        {
            throw CliException.Usage(ex.Message.Replace("valid modes are identities, rows, all", "valid modes are identities, rows, culture, timezone, all", StringComparison.Ordinal));
        }

        var environment = words.Contains("all", StringComparer.Ordinal) ? EnvironmentChaos.Modes
            : EnvironmentChaos.Modes.Where(words.Contains).ToArray();
        return new[] { (ChaosModes.Identities, "identities"), (ChaosModes.Rows, "rows") }
            .Where(m => modes.HasFlag(m.Item1)).Select(m => m.Item2).Concat(environment).ToArray();
    }

    /// <summary>Runs the hunt.</summary>
    public async Task<int> ExecuteAsync(HuntSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var console = context.Console;
        var seed = CommonOptions.ResolveSeed(settings.Seed);

        var progress = new ConsoleProgress(console);
        var project = await TestProject.PrepareAsync(settings.Project, text => console.MarkupLine($"  [grey]{Markup.Escape(text)}[/]"), cancellationToken).ConfigureAwait(false);
        var work = CommonOptions.WorkDirectory(seed);
        try
        {
            var runner = context.RunnerFactory(new RunnerSettings(project.AssemblyPath, work, TimeSpan.FromMinutes(settings.TimeoutMinutes), !settings.ColdStart, project.Framework));
            await using var disposeRunner = runner.ConfigureAwait(false);
            var hunter = new Hunter(runner, new HuntOptions(seed, settings.Runs, settings.Modes, Shell.DisplayPath(project.ProjectPath))
            {
                Filter = settings.Filter is null ? null : TestFilter.Parse(settings.Filter),
            }, progress);
            // The first run's process starts while this one prints and tidies up.
            hunter.StartAhead();
            console.MarkupLine($"[bold]deflake hunt[/] seed [bold]{seed}[/], chaos modes {(settings.Modes.Count == 0 ? "none" : Markup.Escape(string.Join(", ", settings.Modes.Select(m => EnvironmentChaos.IsEnvironmentMode(m) ? $"{m} ({EnvironmentChaos.Describe(m, seed)})" : m))))}, {settings.Runs} random orders{(settings.Filter is null ? string.Empty : $", filter {Markup.Escape(settings.Filter)}")}");
            // A deflake killed outright leaves its work folder behind: the next one clears it (never this one's: its process lives).
            CommonOptions.RemoveAbandonedWorkDirectories();
            HuntOutcome outcome = null!;
            await console.Status().StartAsync("hunting", async status =>
            {
                progress.Context = status;
                outcome = await hunter.HuntAsync(cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);
            // No more runs: the processes still waiting for one go now, not after the reports are written.
            await runner.DisposeAsync().ConfigureAwait(false);

            ConsoleReport.WriteSummary(console, outcome);
            if (settings.Json is not null)
            {
                await JsonReport.WriteAsync(outcome, settings.Json, cancellationToken).ConfigureAwait(false);
                console.MarkupLine($"JSON report: {Markup.Escape(settings.Json)}");
            }

            if (settings.Html is not null)
            {
                await HtmlReport.WriteAsync(outcome, settings.Html, cancellationToken).ConfigureAwait(false);
                console.MarkupLine($"HTML report: {Markup.Escape(settings.Html)}");
            }

            await WriteCiReportsAsync(settings, outcome, project.AssemblyPath, cancellationToken).ConfigureAwait(false);

            return outcome.Findings.Count > 0 || outcome.AlwaysFailing.Count > 0 ? ExitCodes.Findings : ExitCodes.Clean;
        }
        finally
        {
            CommonOptions.ReleaseWorkDirectory(work);
        }
    }

    /// <summary>
    /// The reports CI reads: JUnit XML (<c>--junit</c>), the Markdown summary (<c>--markdown</c>, and
    /// <c>$GITHUB_STEP_SUMMARY</c> when set), and GitHub Actions annotations on stdout when <c>GITHUB_ACTIONS=true</c>.
    /// </summary>
    private async Task WriteCiReportsAsync(HuntSettings settings, HuntOutcome outcome, string assemblyPath, CancellationToken cancellationToken)
    {
        var console = context.Console;
        if (settings.Junit is not null)
        {
            await WriteReportAsync("--junit", settings.Junit, () => JunitReport.WriteAsync(outcome, settings.Junit, cancellationToken)).ConfigureAwait(false);
            console.MarkupLine($"JUnit report: {Markup.Escape(settings.Junit)}");
        }

        if (settings.Markdown is not null)
        {
            await WriteReportAsync("--markdown", settings.Markdown, () => MarkdownReport.WriteAsync(outcome, settings.Markdown, append: false, cancellationToken)).ConfigureAwait(false);
            console.MarkupLine($"Markdown summary: {Markup.Escape(settings.Markdown)}");
        }

        if (Environment.GetEnvironmentVariable(MarkdownReport.StepSummaryVariable) is { Length: > 0 } summary)
        {
            await WriteReportAsync(MarkdownReport.StepSummaryVariable, summary, () => MarkdownReport.WriteAsync(outcome, summary, append: true, cancellationToken)).ConfigureAwait(false);
        }

        if (GitHubAnnotations.Enabled && (outcome.Findings.Count > 0 || outcome.AlwaysFailing.Count > 0))
        {
            GitHubAnnotations.Write(console.Profile.Out.Writer, outcome, SourceLocations.Read(assemblyPath),
                Environment.GetEnvironmentVariable(GitHubAnnotations.WorkspaceVariable));
        }
    }

    private static async Task WriteReportAsync(string setting, string path, Func<Task> write)
    {
        try
        {
            await write().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw CliException.Usage($"{setting}: cannot write '{path}' ({ex.Message.TrimEnd('.')}); give a path in a folder you can write to.");
        }
    }
}
