using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

/// <summary>
/// What <c>deflake hunt</c> costs on samples/Shop.FlakyTests against its target, measured side by side: each round runs
/// one plain suite run, a hunt with warm start and a <c>--cold-start</c> hunt, in an order that turns round by round, so
/// load that drifts on a shared machine hits all three alike. Not BenchmarkDotNet: each measurement is a whole process
/// tree, and the target needs what the hunt itself reports (its survey size and its bisection runs).
/// <para>
/// Target (issue 5): hunt ≤ (modes + orders + 1) × suite + the bisections, that is the hunt's survey runs × the median
/// suite run + the durations of the replay, the bisection's run alone and its halving runs, as that hunt ran them
/// (read from its JSON report). Printed a second way too: with the pair runs that name a collision's partner counted
/// with the bisections.
/// </para>
/// Run: <c>dotnet run -c Release --project bench/Deflake.Benchmarks -- hunt-cost [rounds] [seed ...]</c>; it builds the
/// tool and the sample (Release) first, and keeps its templates in a cache folder of its own.
/// </summary>
internal static class HuntCost
{
    private const string Configuration = "Release";

    public static void Run(IReadOnlyList<string> args)
    {
        var rounds = args.Count > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var seeds = args.Count > 1 ? args.Skip(1).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [42, 7, 20251121];
        var root = RepositoryRoot();
        Build(root, "src/Deflake.Cli");
        Build(root, "samples/Shop.FlakyTests");
        var cli = Path.Combine(root, $"src/Deflake.Cli/bin/{Configuration}/net10.0/Deflake.Cli.dll");
        var sample = Path.Combine(root, $"samples/Shop.FlakyTests/bin/{Configuration}/net10.0/Shop.FlakyTests.dll");
        var scratch = Path.Combine(Path.GetTempPath(), $"deflake-hunt-cost-{Environment.ProcessId}");
        var environment = new Dictionary<string, string> { ["DEFLAKE_CACHE_DIR"] = Path.Combine(scratch, "cache"), ["NO_COLOR"] = "1" };
        Directory.CreateDirectory(scratch);
        try
        {
            Console.WriteLine($"deflake hunt on samples/Shop.FlakyTests ({Configuration}), {rounds} rounds per seed; times are wall clock of the process");
            Console.WriteLine("seed      round  suite    hunt    cold   runs (survey, bisection, pairs)  found  hunt/budget  with pairs  cold/budget  warm/cold");
            foreach (var seed in seeds)
            {
                // Warm-up: templates (identities has one per seed) and the file cache.
                Suite(sample, seed, scratch, environment);
                Hunt(cli, sample, seed, scratch, environment, cold: false);
                var suites = new List<double>();
                var hunts = new List<(double Warm, double Cold, Report Report)>();
                for (var round = 0; round < rounds; round++)
                {
                    double suite = 0, warm = 0, cold = 0;
                    Report? report = null;
                    // Turn the order round by round: suite, warm, cold; warm, cold, suite; cold, suite, warm.
                    foreach (var step in Enumerable.Range(0, 3).Select(i => (i + round) % 3))
                    {
                        switch (step)
                        {
                            case 0:
                                suite = Suite(sample, seed, scratch, environment);
                                break;
                            case 1:
                                (warm, report) = Hunt(cli, sample, seed, scratch, environment, cold: false);
                                break;
                            default:
                                cold = Hunt(cli, sample, seed, scratch, environment, cold: true).Seconds;
                                break;
                        }
                    }

                    suites.Add(suite);
                    hunts.Add((warm, cold, report!));
                }

                var median = suites.Order().ElementAt(suites.Count / 2);
                for (var round = 0; round < rounds; round++)
                {
                    var (warm, cold, report) = hunts[round];
                    var budget = (report.SurveyRuns * median) + report.Bisection;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{seed,-9} {round + 1,5}  {suites[round],5:F2} s {warm,5:F2} s {cold,5:F2} s  {report.Runs,3} ({report.SurveyRuns}, {report.BisectionRuns}, {report.PairRuns}){string.Empty,18}  {report.Findings,5}  {warm / budget,11:F2}  {warm / (budget + report.Pairs),10:F2}  {cold / budget,11:F2}  {warm / cold,9:F2}"));
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{seed,-9} median suite {median:F2} s"));
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>One plain suite run, as the hunt runs its baseline: in parallel, the sample's xUnit seed, results to a file.</summary>
    private static double Suite(string sample, int seed, string scratch, Dictionary<string, string> environment)
    {
        var text = seed.ToString(CultureInfo.InvariantCulture);
        var suiteEnvironment = new Dictionary<string, string>(environment) { ["DEFLAKE_SEED"] = text };
        return Time(["dotnet", sample, $":{text}", "-parallel", "collections", "-maxThreads", "unlimited", "-xml", Path.Combine(scratch, "suite.xml")], suiteEnvironment, expectExit: 1).Seconds;
    }

    private static (double Seconds, Report Report) Hunt(string cli, string sample, int seed, string scratch, Dictionary<string, string> environment, bool cold)
    {
        var json = Path.Combine(scratch, "hunt.json");
        string[] command = ["dotnet", cli, "hunt", sample, "--seed", seed.ToString(CultureInfo.InvariantCulture), "--json", json, .. cold ? new[] { "--cold-start" } : []];
        var (seconds, _) = Time(command, environment, expectExit: 1);
        return (seconds, Report.Read(json));
    }

    private static (double Seconds, string Output) Time(string[] command, Dictionary<string, string> environment, int expectExit)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        var seconds = clock.Elapsed.TotalSeconds;
        if (process.ExitCode != expectExit)
        {
            // The sample always has failures (exit 1): anything else is a broken measurement, not a slow one.
            throw new InvalidOperationException($"'{string.Join(' ', command)}' exited with {process.ExitCode}, expected {expectExit}: {error.Result}{output.Result}");
        }

        return (seconds, output.Result);
    }

    private static void Build(string root, string project)
    {
        var (_, _) = Time(["dotnet", "build", Path.Combine(root, project), "-c", Configuration, "-v", "q", "-nologo"], [], expectExit: 0);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Deflake.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"Deflake.slnx not found above {AppContext.BaseDirectory}: run this from the repository.");
    }

    /// <summary>What a hunt's JSON report says about its own runs.</summary>
    private sealed record Report(int Runs, int SurveyRuns, int BisectionRuns, double Bisection, int PairRuns, double Pairs, int Findings)
    {
        public static Report Read(string path)
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            var runs = document.RootElement.GetProperty("runs").EnumerateArray()
                .Select(r => (Name: r.GetProperty("name").GetString()!, Seconds: r.GetProperty("duration").GetDouble(), Survey: r.GetProperty("survey").GetBoolean()))
                .ToArray();
            // The bisection's runs as the hunt names them: "replay of …", "bisect: alone…", "bisect".
            var bisection = runs.Where(r => !r.Survey && (r.Name.StartsWith("replay", StringComparison.Ordinal) || r.Name.StartsWith("bisect", StringComparison.Ordinal))).ToArray();
            var pairs = runs.Where(r => r.Name == "pair in parallel").ToArray();
            return new Report(runs.Length, runs.Count(r => r.Survey), bisection.Length, bisection.Sum(r => r.Seconds), pairs.Length, pairs.Sum(r => r.Seconds),
                document.RootElement.GetProperty("findings").GetArrayLength());
        }
    }
}
