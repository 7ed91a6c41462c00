using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

/// <summary>
/// The whole-suite benchmark: bench/Deflake.SuiteBench, 300 xUnit v3 tests on the 20-table schema with 50 seed rows each
/// (each test writes 3 rows in 2 tables and reads one seeded row), run as a test process — process start, pool start and
/// every test included — under each isolation strategy, side by side. The first run of each (the warm-up) builds the template.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
public abstract class SuiteBenchmarks
{
    private string _suite = null!;

    /// <summary><c>postgres</c>, <c>mariadb</c> or <c>sqlite</c>.</summary>
    protected abstract string Engine { get; }

    [GlobalSetup]
    public void Setup() => _suite = SuiteProcess.Build();

    [Benchmark(Baseline = true, Description = "one shared database")]
    public void Shared() => SuiteProcess.Run(_suite, Engine, "shared");

    [Benchmark(Description = "transaction rollback")]
    public void Rollback() => SuiteProcess.Run(_suite, Engine, "rollback");

    [Benchmark(Description = "delete and re-seed (one test at a time)")]
    public void Reseed() => SuiteProcess.Run(_suite, Engine, "reseed");

    [Benchmark(Description = "Deflake, recycling (default)")]
    public void Recycle() => SuiteProcess.Run(_suite, Engine, "recycle");

    [Benchmark(Description = "Deflake, a new clone per test")]
    public void Clone() => SuiteProcess.Run(_suite, Engine, "clone");
}

public class PostgresSuiteBenchmarks : SuiteBenchmarks
{
    protected override string Engine => "postgres";
}

public class MariaDbSuiteBenchmarks : SuiteBenchmarks
{
    protected override string Engine => "mariadb";
}

public class SqliteSuiteBenchmarks : SuiteBenchmarks
{
    protected override string Engine => "sqlite";
}

internal static class SuiteProcess
{
    /// <summary>Builds bench/Deflake.SuiteBench (Release) and returns its assembly's path.</summary>
    public static string Build()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Deflake.slnx")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("Deflake.slnx not found above " + AppContext.BaseDirectory);
        }

        var project = Path.Combine(root, "bench", "Deflake.SuiteBench");
        var (code, output) = Execute("dotnet", ["build", "-c", "Release", "--nologo", "-v", "q", project], []);
        if (code != 0)
        {
            throw new InvalidOperationException("building the suite failed:\n" + output);
        }

        return Path.Combine(project, "bin", "Release", "net10.0", "Deflake.SuiteBench.dll");
    }

    public static void Run(string suite, string engine, string mode)
    {
        var (code, output) = Execute("dotnet", [suite], [("SUITE_ENGINE", engine), ("SUITE_MODE", mode)]);
        if (code != 0 || !output.Contains("Total: 300", StringComparison.Ordinal) || !output.Contains("Failed: 0", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"the suite ({engine}, {mode}) did not pass all 300 tests (exit {code}):\n{output[Math.Max(0, output.Length - 3000)..]}");
        }
    }

    private static (int Code, string Output) Execute(string file, string[] arguments, (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.GetAwaiter().GetResult());
    }
}
