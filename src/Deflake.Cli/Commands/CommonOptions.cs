using System.CommandLine;
using Deflake.Cli.Running;
using Spectre.Console;

namespace Deflake.Cli.Commands;

/// <summary>What every command gets: where to write, and how to build its runner.</summary>
internal sealed class CommandContext(IAnsiConsole console, TextWriter error, Func<RunnerSettings, ITestRunner>? runnerFactory = null)
{
    /// <summary>Standard output, through Spectre.Console.</summary>
    public IAnsiConsole Console { get; } = console;

    /// <summary>Standard error: one-line errors go here.</summary>
    public TextWriter Error { get; } = error;

    /// <summary>Makes the runner of a built test assembly.</summary>
    public Func<RunnerSettings, ITestRunner> RunnerFactory { get; } = runnerFactory ?? (s => new XunitV3Runner(s.AssemblyPath, s.WorkDirectory, s.Timeout, s.WarmStart));
}

/// <summary>What a runner needs: the built test assembly, where to write, how long one run may take, whether it starts processes ahead.</summary>
internal sealed record RunnerSettings(string AssemblyPath, string WorkDirectory, TimeSpan Timeout, bool WarmStart);

/// <summary>Options shared by commands that run a test project.</summary>
internal static class CommonOptions
{
    public static Argument<string?> Project()
    {
        var argument = new Argument<string?>("PROJECT")
        {
            Description = "The xUnit v3 test project: a project file, its directory, or a built test assembly (.dll). Default: the current directory.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        argument.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && result.Tokens[0].Value.StartsWith('-'))
            {
                result.AddError($"Unrecognized option '{result.Tokens[0].Value}'.");
            }
        });
        return argument;
    }

    public static Option<int?> Seed() => new("--seed")
    {
        Description = "Seed for every random choice (orders, chaos). Default: a fresh one, printed so the hunt can be replayed.",
    };

    public static Option<int> Timeout() => new("--timeout")
    {
        Description = "Minutes one test run may take before it counts as hung.",
        DefaultValueFactory = _ => 10,
    };

    public static Option<bool> ColdStart() => new("--cold-start")
    {
        Description = "Start each run's test process only when the run begins. By default the next run's process starts while the current run's tests run, "
            + "and waits before any fixture or test is set up (it only discovers tests meanwhile).",
    };

    public static int ResolveSeed(int? seed) => seed ?? System.Random.Shared.Next(1, int.MaxValue);

    public static string WorkDirectory(int seed)
        => Path.Combine(Path.GetTempPath(), $"deflake-hunt-{Environment.ProcessId}-{seed}");

    public static void DeleteQuietly(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
