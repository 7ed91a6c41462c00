using System.CommandLine;
using Deflake.Cli.Commands;
using Deflake.Cli.Running;
using Spectre.Console;

namespace Deflake.Cli;

/// <summary>The <c>deflake</c> command line: parses, dispatches to one command class, maps errors to exit codes.</summary>
internal static class DeflakeApp
{
    /// <summary>Builds the root command with every subcommand.</summary>
    public static RootCommand BuildRootCommand(CommandContext context)
    {
        var root = new RootCommand("deflake: find every flaky database test in a .NET suite, name its cause and its polluter, and show how to reproduce it.")
        {
            HuntCommand.Create(context),
            BisectCommand.Create(context),
            GcCommand.Create(context),
            DoctorCommand.Create(context),
        };
        return root;
    }

    /// <summary>
    /// How long a command may take to clean up after Ctrl+C or SIGTERM (kill its test processes and wait for them, remove
    /// its work folder) before System.CommandLine stops waiting for it and the process ends without that clean-up. Its
    /// default, 2 s, leaves no room on a loaded CI machine, where killing and reaping a test process alone can take seconds.
    /// </summary>
    internal static readonly TimeSpan TerminationGrace = TimeSpan.FromSeconds(10);

    /// <summary>The invocation settings of every command.</summary>
    internal static InvocationConfiguration Invocation(TextWriter output, TextWriter error) => new()
    {
        Output = output,
        Error = error,
        EnableDefaultExceptionHandler = false,
        ProcessTerminationTimeout = TerminationGrace,
    };

    /// <summary>
    /// The one line for a first word that names no command, or for no command at all. System.CommandLine reports those as
    /// "Required command was not provided." first, which reads as if the word were missing rather than wrong.
    /// </summary>
    internal static string? UnknownCommand(RootCommand root, ParseResult parse, string[] args)
    {
        if (parse.Errors.Count == 0 || parse.CommandResult.Command != root)
        {
            return null;
        }

        var commands = string.Join(", ", root.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
        var first = args.FirstOrDefault();
        if (first is null)
        {
            return $"deflake: no command given; the commands are {commands} (run 'deflake --help' for usage).";
        }

        return first.StartsWith('-')
            ? null
            : $"deflake: unknown command '{first}'; the commands are {commands} (run 'deflake --help' for usage).";
    }

    /// <summary>Runs <c>deflake</c> with <paramref name="args"/>; returns the exit code (see <see cref="ExitCodes"/>).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, bool interactive = false,
        Func<RunnerSettings, ITestRunner>? runnerFactory = null, CancellationToken cancellationToken = default)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!interactive)
        {
            console.Profile.Width = 160;
        }

        var context = new CommandContext(console, error, runnerFactory);
        var root = BuildRootCommand(context);
        var parse = root.Parse(args);
        if (UnknownCommand(root, parse, args) is { } unknown)
        {
            await error.WriteLineAsync(unknown).ConfigureAwait(false);
            return ExitCodes.UsageError;
        }

        if (parse.Errors.Count > 0)
        {
            foreach (var parseError in parse.Errors)
            {
                await error.WriteLineAsync($"deflake: {parseError.Message}").ConfigureAwait(false);
            }

            await error.WriteLineAsync("Run 'deflake --help' for usage.").ConfigureAwait(false);
            return ExitCodes.UsageError;
        }

        try
        {
            return await parse.InvokeAsync(Invocation(output, error), cancellationToken).ConfigureAwait(false);
        }
        catch (CliException ex)
        {
            await error.WriteLineAsync($"deflake: {ex.Message}").ConfigureAwait(false);
            return ex.ExitCode;
        }
        catch (DeflakeConfigurationException ex)
        {
            await error.WriteLineAsync($"deflake: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.UsageError;
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested || ex.CancellationToken.IsCancellationRequested)
        {
            // Ctrl+C: System.CommandLine cancels the command's own token, sometimes before ours is.
            await error.WriteLineAsync("deflake: cancelled.").ConfigureAwait(false);
            return ExitCodes.Cancelled;
        }
    }
}
