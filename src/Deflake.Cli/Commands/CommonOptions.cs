using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
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
    public Func<RunnerSettings, ITestRunner> RunnerFactory { get; } = runnerFactory ?? CreateRunner;

    /// <summary>The runner of the assembly's framework.</summary>
    public static ITestRunner CreateRunner(RunnerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.Framework switch
        {
            TestFramework.XunitV2 => new Xunit2Runner(settings.AssemblyPath, settings.WorkDirectory, settings.Timeout),
            TestFramework.NUnit or TestFramework.MSTest => new TestingPlatformRunner(settings.Framework, settings.AssemblyPath, settings.WorkDirectory, settings.Timeout),
            _ => new XunitV3Runner(settings.AssemblyPath, settings.WorkDirectory, settings.Timeout, settings.WarmStart),
        };
    }
}

/// <summary>
/// What a runner needs: the built test assembly, where to write, how long one run may take, whether it starts processes
/// ahead (xUnit v3 only), and the assembly's test framework.
/// </summary>
internal sealed record RunnerSettings(string AssemblyPath, string WorkDirectory, TimeSpan Timeout, bool WarmStart, TestFramework Framework = TestFramework.XunitV3);

/// <summary>Options shared by commands that run a test project.</summary>
internal static partial class CommonOptions
{
    public static Argument<string?> Project()
    {
        var argument = new Argument<string?>("PROJECT")
        {
            Description = "The test project (xUnit v3, xUnit v2, NUnit or MSTest): a project file, its directory, or a built test assembly (.dll). Default: the current directory.",
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
        CustomParser = result => WholeNumber(result, "42"),
    };

    public static Option<int> Timeout()
    {
        var option = new Option<int>("--timeout")
        {
            Description = "Minutes one test run may take before it counts as hung.",
            DefaultValueFactory = _ => 10,
            CustomParser = result => WholeNumber(result, "10"),
        };
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && int.TryParse(r.Tokens[0].Value, CultureInfo.InvariantCulture, out var minutes) && minutes < 1)
            {
                r.AddError($"--timeout: {minutes} minutes would stop every run at once; give 1 or more (the default is 10).");
            }
        });
        return option;
    }

    /// <summary>
    /// An option's whole-number value; otherwise a one-line error that names the option, the value given and what to give
    /// instead (the parser's own message names a .NET type).
    /// </summary>
    public static int WholeNumber(ArgumentResult result, string example)
    {
        ArgumentNullException.ThrowIfNull(result);
        var token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
        if (int.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        var name = result.Parent is OptionResult option ? option.Option.Name : "the value";
        result.AddError(long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
            ? $"{name}: {token} is out of range; give a whole number from {int.MinValue} to {int.MaxValue}, such as {example}."
            : $"{name}: '{token}' is not a whole number; give one such as {example}.");
        return 0;
    }

    public static Option<bool> ColdStart() => new("--cold-start")
    {
        Description = "Start each run's test process only when the run begins. By default the next run's process starts while the current run's tests run, "
            + "and waits before any fixture or test is set up (it only discovers tests meanwhile).",
    };

    public static int ResolveSeed(int? seed) => seed ?? System.Random.Shared.Next(1, int.MaxValue);

    /// <summary>The names of the work folders the hunts and bisections of this process hold now.</summary>
    private static readonly HashSet<string> WorkDirectoriesInUse = new(StringComparer.Ordinal);

    /// <summary>
    /// Where a hunt or bisection keeps its order files and results; given back (and removed) with
    /// <see cref="ReleaseWorkDirectory"/> when it ends. <c>deflake-hunt-{process id}-{seed}</c>, and a number after it
    /// when a hunt of this process with the same seed still holds that one (hunts run side by side in one process, as
    /// tests do): two hunts never share order files or results.
    /// </summary>
    public static string WorkDirectory(int seed)
    {
        var name = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"deflake-hunt-{Environment.ProcessId}-{seed}");
        lock (WorkDirectoriesInUse)
        {
            var candidate = name;
            for (var n = 2; !WorkDirectoriesInUse.Add(candidate); n++)
            {
                candidate = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{name}-{n}");
            }

            return Path.Combine(Path.GetTempPath(), candidate);
        }
    }

    /// <summary>Removes a work folder <see cref="WorkDirectory"/> gave, and gives its name back.</summary>
    public static void ReleaseWorkDirectory(string directory)
    {
        DeleteQuietly(directory);
        lock (WorkDirectoriesInUse)
        {
            WorkDirectoriesInUse.Remove(Path.GetFileName(directory));
        }
    }

    /// <summary>
    /// Removes the work folders of hunts and bisections whose deflake process is gone without cleaning up (killed
    /// outright): only folders named as <see cref="WorkDirectory"/> names them, of a process id no live process has,
    /// holding nothing but the files a runner writes. A folder of a live process (or of a reused process id) stays.
    /// Returns how many were removed.
    /// </summary>
    public static int RemoveAbandonedWorkDirectories(string? under = null)
    {
        var removed = 0;
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateDirectories(under ?? Path.GetTempPath(), "deflake-hunt-*").ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        foreach (var directory in candidates)
        {
            var match = WorkDirectoryName().Match(Path.GetFileName(directory));
            if (!match.Success || !int.TryParse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                || pid == Environment.ProcessId || IsRunning(pid))
            {
                continue;
            }

            try
            {
                if (Directory.EnumerateFileSystemEntries(directory).All(e => File.Exists(e) && RunInputs.IsWorkFile(Path.GetFileName(e))))
                {
                    Directory.Delete(directory, recursive: true);
                    removed++;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // In use or not ours to remove: left alone.
            }
        }

        return removed;
    }

    /// <summary>Whether a process with this id lives (a zombie or a reused id aside).</summary>
    internal static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^deflake-hunt-(\d+)--?\d+(-\d+)?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex WorkDirectoryName();

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
