using System.Diagnostics;

namespace Deflake.Contract;

/// <summary>Starts tests/Deflake.TestHost as a real child process running one scenario.</summary>
public sealed class TestHostProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly System.Text.StringBuilder _errors = new();

    private TestHostProcess(Process process)
    {
        _process = process;
    }

    /// <summary>The path of the built Deflake.TestHost.dll, next to this test project's output.</summary>
    public static string HostPath
    {
        get
        {
            // .../tests/<ThisProject>/bin/<Configuration>/<tfm>/ → .../tests/Deflake.TestHost/bin/<Configuration>/<tfm>/
            var baseDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var tfm = baseDirectory.Name;
            var configuration = baseDirectory.Parent!.Name;
            var tests = baseDirectory.Parent.Parent!.Parent!.Parent!.FullName;
            var path = Path.Combine(tests, "Deflake.TestHost", "bin", configuration, tfm, "Deflake.TestHost.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"Build tests/Deflake.TestHost first; expected {path}.");
        }
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Starts <c>dotnet Deflake.TestHost.dll scenario args…</c> with extra environment variables.</summary>
    public static TestHostProcess Start(string scenario, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(HostPath);
        info.ArgumentList.Add(scenario);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info };
        var host = new TestHostProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (host._lines)
                {
                    host._lines.Add(e.Data);
                    Monitor.PulseAll(host._lines);
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (host._errors)
                {
                    host._errors.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>All lines printed so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    /// <summary>Waits for a line starting with <paramref name="prefix"/>; fails with what the child printed on timeout or exit.</summary>
    public string WaitForLine(string prefix, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_lines)
        {
            while (true)
            {
                var found = _lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
                if (found is not null)
                {
                    return found;
                }

                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || (_process.HasExited && !Monitor.Wait(_lines, 200)))
                {
                    throw new TimeoutException($"No line '{prefix}…' from TestHost (exited: {_process.HasExited}); stdout: {string.Join(" | ", _lines)}; stderr: {Errors}");
                }

                Monitor.Wait(_lines, left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
            }
        }
    }

    /// <summary>Waits for the child to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Kills the child like <c>kill -9</c>: no cleanup code runs.</summary>
    public void KillHard()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    public void Dispose()
    {
        KillHard();
        _process.Dispose();
    }
}
