using System.Globalization;

namespace Deflake.Cli.Running;

/// <summary>
/// What the runners of frameworks without Deflake's start gate share: each run starts its test process when it begins
/// (a cold start), with the run's <c>DEFLAKE_*</c> settings and files (<see cref="RunInputs"/>), a filter naming the
/// listed tests, and a results file it reads when the process ends.
/// </summary>
internal abstract class ColdTestRunner(string assemblyPath, string workDirectory, TimeSpan timeout) : ITestRunner
{
    private int _runNumber;

    /// <summary>The built test assembly, as an absolute path.</summary>
    protected string AssemblyPath { get; } = Path.GetFullPath(assemblyPath);

    /// <summary>The run's files in the work folder.</summary>
    protected RunInputs Inputs { get; } = new(workDirectory);

    /// <summary>How long one run may take.</summary>
    protected TimeSpan Timeout => timeout;

    /// <inheritdoc/>
    public abstract Task<IReadOnlyList<string>> ListTestsAsync(CancellationToken cancellationToken = default);

    /// <inheritdoc/>
    public abstract string ReproduceCommand(RunRequest request);

    /// <summary>The program and arguments of run <paramref name="number"/>, which writes its results to <paramref name="resultsPath"/>.</summary>
    protected abstract Task<(string FileName, IReadOnlyList<string> Arguments)> CommandAsync(RunRequest request, int number, string resultsPath, CancellationToken cancellationToken);

    /// <summary>The results file of run <paramref name="number"/> in the work folder.</summary>
    protected abstract string ResultsPath(int number);

    /// <summary>Reads a results file: the outcomes in start order, and how many tests it names (skipped ones too).</summary>
    protected abstract (IReadOnlyList<TestOutcome> Tests, int Discovered) ReadResults(string resultsPath);

    /// <inheritdoc/>
    public async Task<RunResult> RunAsync(RunRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var number = Interlocked.Increment(ref _runNumber);
        var environment = await Inputs.WriteAsync(request, number, cancellationToken).ConfigureAwait(false);
        var results = ResultsPath(number);
        var (fileName, arguments) = await CommandAsync(request, number, results, cancellationToken).ConfigureAwait(false);
        var result = await ProcessRunner.RunAsync(fileName, arguments, environment, timeout: timeout, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.TimedOut)
        {
            throw CliException.Run($"run '{request.Name}' did not finish within {timeout.TotalMinutes:0.#} minutes (a hung test?); replay: {ReproduceCommand(request)}");
        }

        if (!File.Exists(results))
        {
            throw CliException.Run($"run '{request.Name}' produced no results (exit code {result.ExitCode}): {FirstLine(result.Error + "\n" + result.Output)}");
        }

        var (tests, discovered) = ReadResults(results);
        if (tests.Count == 0 && result.ExitCode is not (0 or 8))
        {
            // A runner that crashed may leave an empty results file behind (8: Microsoft.Testing.Platform ran no test).
            throw CliException.Run($"run '{request.Name}' ran no test (exit code {result.ExitCode}): {FirstLine(result.Error + "\n" + result.Output)}");
        }

        return new RunResult(request, tests, result.Duration, ReproduceCommand(request))
        {
            Discovered = discovered,
            Activity = await Inputs.ReadActivityAsync(number, cancellationToken).ConfigureAwait(false),
        };
    }

    /// <summary>A number as the invariant culture writes it.</summary>
    protected static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The first line of a process's output that names an exception or error (else its first line), cut to 300 characters.</summary>
    protected static string FirstLine(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = lines.FirstOrDefault(l => l.Contains("Exception", StringComparison.Ordinal) || l.Contains("error", StringComparison.OrdinalIgnoreCase))
            ?? lines.FirstOrDefault() ?? string.Empty;
        return line.Length > 300 ? line[..300] + "…" : line;
    }
}
