using System.Collections.Concurrent;
using System.Diagnostics;

namespace Deflake.Postgres.Tests;

/// <summary>A child process running a scenario of tests/Deflake.TestHost (<c>dotnet Deflake.TestHost.dll SCENARIO ARGS</c>).</summary>
public sealed class TestHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = [];
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly ConcurrentQueue<string> _output = new();

    private TestHostProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _lines.CompleteAdding();
                return;
            }

            _output.Enqueue(e.Data);
            _lines.Add(e.Data);
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _errors.Enqueue(e.Data);
            }
        };
    }

    public int Id => _process.Id;

    public IReadOnlyCollection<string> Output => _output;

    public string Errors => string.Join('\n', _errors);

    /// <summary>Where the TestHost build output is: next to this test assembly's output, same configuration.</summary>
    public static string HostDll
    {
        get
        {
            // tests/Deflake.Postgres.Tests/bin/<Configuration>/<tfm>/ → tests/Deflake.TestHost/bin/<Configuration>/<tfm>/
            var baseDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var tfm = baseDirectory.Name;
            var configuration = baseDirectory.Parent!.Name;
            var tests = baseDirectory.Parent!.Parent!.Parent!.Parent!.FullName;
            var dll = Path.Combine(tests, "Deflake.TestHost", "bin", configuration, tfm, "Deflake.TestHost.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"Deflake.TestHost.dll is not built at {dll}; build tests/Deflake.Postgres.Tests (it builds the host).", dll);
        }
    }

    public static async Task<TestHostProcess> StartAsync(string scenario, params string[] arguments)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath) ? hostPath : "dotnet";
        var start = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(HostDll);
        start.ArgumentList.Add(scenario);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment[DeflakeEnvironment.Postgres] = await PostgresTestServer.GetAdminConnectionStringAsync();
        var process = new Process { StartInfo = start };
        var host = new TestHostProcess(process);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>The next line of output, or an exception carrying stderr when the process ends or the time is up.</summary>
    public string ReadLine(TimeSpan timeout)
    {
        if (_lines.TryTake(out var line, timeout))
        {
            return line;
        }

        throw new TimeoutException($"TestHost (pid {_process.Id}) printed no line within {timeout.TotalSeconds:0} s; exited: {_process.HasExited}; stderr: {Errors}");
    }

    /// <summary>Reads lines until one starts with <paramref name="prefix"/>; returns the rest of it.</summary>
    public string ReadUntil(string prefix, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            var line = ReadLine(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line[prefix.Length..].Trim();
            }
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    /// <summary>kill -9.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
        _lines.Dispose();
    }
}
