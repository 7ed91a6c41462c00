using System.CommandLine;
using Deflake.Cli.Hunting;
using Deflake.Cli.Reporting;
using Deflake.Cli.Running;
using Spectre.Console;

namespace Deflake.Cli.Commands;

/// <summary>Settings of <c>deflake bisect</c>.</summary>
/// <param name="Victim">The test that fails after others.</param>
/// <param name="Project">The test project (null: the current directory).</param>
/// <param name="Seed">The seed (null: a fresh one).</param>
/// <param name="TimeoutMinutes">Minutes one run may take.</param>
/// <param name="ColdStart">Start each run's process only when the run begins (no warm start).</param>
/// <param name="Filter">The tests to suspect, in <c>dotnet test --filter</c> syntax (null: every other test).</param>
internal sealed record BisectSettings(string Victim, string? Project, int? Seed, int TimeoutMinutes, bool ColdStart = false, string? Filter = null);

/// <summary><c>deflake bisect</c>: finds the tests that make a victim fail when they run before it.</summary>
internal sealed class BisectCommand(CommandContext context)
{
    private static readonly Option<string> VictimOption = new("--victim")
    {
        Description = "The test that fails after others: Namespace.Class.Method.",
        Required = true,
    };

    private static readonly Argument<string?> ProjectArgument = CommonOptions.Project();

    private static readonly Option<int?> SeedOption = CommonOptions.Seed();

    private static readonly Option<int> TimeoutOption = CommonOptions.Timeout();

    private static readonly Option<bool> ColdStartOption = CommonOptions.ColdStart();

    private static readonly Option<string?> FilterOption = new("--filter")
    {
        Description = "Suspect only these tests, as 'dotnet test --filter' selects them (FullyQualifiedName~X, ClassName=Y, Category=Z, & and |); the victim always runs.",
    };

    /// <summary>The command line definition.</summary>
    public static Command Create(CommandContext context)
    {
        var command = new Command("bisect",
            "Find the polluter of an order-dependent test: confirm it passes alone and fails after all other tests, then halve the suspects until the polluting test (or tests) remain.")
        {
            VictimOption, ProjectArgument, SeedOption, FilterOption, TimeoutOption, ColdStartOption,
        };
        command.SetAction((parse, cancellationToken) => new BisectCommand(context).ExecuteAsync(Bind(parse), cancellationToken));
        return command;
    }

    internal static BisectSettings Bind(ParseResult parse) => new(
        parse.GetRequiredValue(VictimOption), parse.GetValue(ProjectArgument), parse.GetValue(SeedOption), parse.GetValue(TimeoutOption), parse.GetValue(ColdStartOption),
        parse.GetValue(FilterOption) is { } filter ? TestFilter.Parse(filter).Text : null);

    /// <summary>Runs the bisection.</summary>
    public async Task<int> ExecuteAsync(BisectSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var console = context.Console;
        var seed = CommonOptions.ResolveSeed(settings.Seed);
        var project = await TestProject.PrepareAsync(settings.Project, text => console.MarkupLine($"  [grey]{Markup.Escape(text)}[/]"), cancellationToken).ConfigureAwait(false);
        // A deflake killed outright leaves its work folder behind: the next one clears it.
        CommonOptions.RemoveAbandonedWorkDirectories();
        var work = CommonOptions.WorkDirectory(seed);
        try
        {
            var runner = context.RunnerFactory(new RunnerSettings(project.AssemblyPath, work, TimeSpan.FromMinutes(settings.TimeoutMinutes), !settings.ColdStart, project.Framework));
            await using var disposeRunner = runner.ConfigureAwait(false);
            // Every bisection run is one at a time: the first one's process starts while the tests are listed.
            runner.StartAhead(parallel: false, seed);
            var cases = await runner.ListTestCasesAsync(cancellationToken).ConfigureAwait(false);
            var tests = cases.Select(t => t.Id).ToArray();
            if (!tests.Contains(settings.Victim, StringComparer.Ordinal))
            {
                var near = tests.Where(t => t.EndsWith("." + settings.Victim.Split('.')[^1], StringComparison.Ordinal)).Take(3).ToArray();
                throw CliException.Usage($"no test '{settings.Victim}' in {Shell.DisplayPath(project.AssemblyPath)}{(near.Length > 0 ? $"; did you mean {string.Join(" or ", near)}?" : "; ids are Namespace.Class.Method.")}");
            }

            var filter = settings.Filter is null ? null : TestFilter.Parse(settings.Filter);
            var candidates = cases.Where(t => t.Id != settings.Victim && (filter is null || filter.Matches(t))).Select(t => t.Id).ToArray();
            if (candidates.Length == 0)
            {
                throw CliException.Usage($"--filter '{settings.Filter}' selects none of the other {tests.Length - 1} tests; check the names (ids are Namespace.Class.Method) or trait values.");
            }

            console.MarkupLine($"[bold]deflake bisect[/] {Markup.Escape(settings.Victim)} among {candidates.Length} tests, seed [bold]{seed}[/]");
            var bisector = new Bisector(async (before, ct) =>
            {
                var run = await runner.RunAsync(new RunRequest("bisect", RunOrderKind.List, "none", seed, Parallel: false, [.. before, settings.Victim]), ct).ConfigureAwait(false);
                var failed = run.FailedTest(settings.Victim);
                console.MarkupLine($"  [grey]{before.Count} tests, then the victim: {(failed ? "failed" : "passed")}[/]");
                return failed;
            });
            var result = await bisector.BisectAsync(candidates, cancellationToken: cancellationToken).ConfigureAwait(false);
            switch (result.Verdict)
            {
                case BisectionVerdict.FailsAlone:
                    console.MarkupLine($"{Markup.Escape(settings.Victim)} fails alone: it is [bold]not order-dependent[/] (try deflake hunt for its cause).");
                    ConsoleReport.WriteCommand(console, "reproduce: ", runner.ReproduceCommand(new RunRequest("alone", RunOrderKind.Default, "none", seed, false, [settings.Victim])));
                    return ExitCodes.Clean;
                case BisectionVerdict.NotReproduced:
                    console.MarkupLine($"{Markup.Escape(settings.Victim)} passed after all {candidates.Length} other tests: [bold]no polluter[/] found ({Bisector.RunCount(result.Runs)}).");
                    return ExitCodes.Clean;
                default:
                    foreach (var polluter in result.Polluters)
                    {
                        console.MarkupLine($"polluter: [yellow bold]{Markup.Escape(string.Join(" + ", polluter))}[/]");
                        ConsoleReport.WriteCommand(console, "reproduce: ", runner.ReproduceCommand(new RunRequest("reproduce", RunOrderKind.List, "none", seed, false, [.. polluter, settings.Victim])));
                    }

                    console.MarkupLine($"{Bisector.RunCount(result.Runs)}, seed {seed}.");
                    return ExitCodes.Findings;
            }
        }
        finally
        {
            CommonOptions.ReleaseWorkDirectory(work);
        }
    }
}
