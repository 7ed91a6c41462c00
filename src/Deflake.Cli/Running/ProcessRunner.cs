using System.Diagnostics;
using System.Text;

namespace Deflake.Cli.Running;

/// <summary>The result of a child process.</summary>
internal sealed record ProcessResult(int ExitCode, string Output, string Error, TimeSpan Duration, bool TimedOut);

/// <summary>Starts child processes with extra environment variables, captures their output, kills them on cancel.</summary>
internal static class ProcessRunner
{
    /// <summary>Runs <paramref name="fileName"/> with <paramref name="arguments"/> to completion.</summary>
    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        var process = Start(fileName, arguments, environment, workingDirectory);
        await using (process.ConfigureAwait(false))
        {
            return await process.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Starts <paramref name="fileName"/> and returns at once. With <paramref name="withInput"/> its standard input is
    /// a pipe the caller writes to (<see cref="StartedProcess.Input"/>); otherwise it has none.
    /// </summary>
    /// <exception cref="CliException">The program could not be started.</exception>
    public static StartedProcess Start(
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null,
        bool withInput = false)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = withInput,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // A parent 'dotnet test' or 'dotnet run' leaves MSBuild's own variables behind; a child build must find its own.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToArray())
        {
            start.Environment.Remove(name);
        }

        // The children must not inherit a terminal-sized, coloured, telemetry-chatty environment.
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["NO_COLOR"] = "1";
        if (environment is not null)
        {
            foreach (var (name, value) in environment)
            {
                if (value is null)
                {
                    start.Environment.Remove(name);
                }
                else
                {
                    start.Environment[name] = value;
                }
            }
        }

        return new StartedProcess(fileName, start);
    }
}

/// <summary>A child process that was started: its output is captured as it comes; wait for it, or kill it.</summary>
internal sealed class StartedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private Stopwatch _stopwatch;
    private bool _waited;

    internal StartedProcess(string fileName, ProcessStartInfo start)
    {
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Append(_output, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_error, e.Data);
        _stopwatch = Stopwatch.StartNew();
        try
        {
            _process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            _process.Dispose();
            throw CliException.Run($"could not start {fileName}: {ex.Message}", ex);
        }

        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Its standard input (only when started with input).</summary>
    public StreamWriter Input => _process.StandardInput;

    /// <summary>Its process id.</summary>
    public int Id => _process.Id;

    /// <summary>What it wrote to standard output so far.</summary>
    public string OutputSoFar => Read(_output);

    /// <summary>What it wrote to standard error so far.</summary>
    public string ErrorSoFar => Read(_error);

    /// <summary>Whether it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Counts the duration <see cref="WaitAsync"/> reports from now on (for a process started ahead of its work).</summary>
    public void RestartClock() => _stopwatch = Stopwatch.StartNew();

    /// <summary>Waits for it to exit; past <paramref name="timeout"/> it is killed and the result says so.</summary>
    public async Task<ProcessResult> WaitAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var timeoutSource = new CancellationTokenSource(timeout ?? Timeout.InfiniteTimeSpan);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        var timedOut = false;
        try
        {
            await _process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            timedOut = true;
        }

        // Let the asynchronous readers drain.
        _process.WaitForExit();
        _waited = true;
        var duration = _stopwatch.Elapsed;
        return new ProcessResult(timedOut ? -1 : _process.ExitCode, Read(_output), Read(_error), duration, timedOut);
    }

    /// <summary>Kills it and its children, if still running.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Kills it unless it was waited for, and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_waited)
        {
            Kill();
            try
            {
                await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                // Never started.
            }
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder buffer, string? line)
    {
        if (line is not null)
        {
            lock (buffer)
            {
                buffer.AppendLine(line);
            }
        }
    }

    private static string Read(StringBuilder buffer)
    {
        lock (buffer)
        {
            return buffer.ToString();
        }
    }
}
