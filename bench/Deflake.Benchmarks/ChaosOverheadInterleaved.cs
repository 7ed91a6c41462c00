using System.Diagnostics;
using System.Globalization;
using Deflake;

/// <summary>
/// The 14 database tests of <see cref="ChaosOverheadBenchmarks"/>, without chaos and under <c>all</c>, alternating run by
/// run in one process, so load that drifts on a shared machine (other builds and test runs) hits both alike; prints the
/// medians, the 10%-trimmed means and their ratios. For when BenchmarkDotNet's back-to-back params drift apart.
/// Run: <c>dotnet run -c Release --project bench/Deflake.Benchmarks -- interleaved-chaos [rounds]</c>.
/// </summary>
internal static class ChaosOverheadInterleaved
{
    public static void Run(int rounds)
    {
        var none = new ChaosOverheadBenchmarks { Chaos = ChaosModes.None };
        var all = new ChaosOverheadBenchmarks { Chaos = ChaosModes.All };
        none.Setup();
        all.Setup();
        try
        {
            for (var warmup = 0; warmup < 20; warmup++)
            {
                none.DatabaseTestsAsync().GetAwaiter().GetResult();
                all.DatabaseTestsAsync().GetAwaiter().GetResult();
            }

            var noneTimes = new List<double>(rounds);
            var allTimes = new List<double>(rounds);
            for (var round = 0; round < rounds; round++)
            {
                var start = Stopwatch.GetTimestamp();
                none.DatabaseTestsAsync().GetAwaiter().GetResult();
                noneTimes.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                start = Stopwatch.GetTimestamp();
                all.DatabaseTestsAsync().GetAwaiter().GetResult();
                allTimes.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Shop.Tests database tests (14), {rounds} interleaved rounds: none median {Median(noneTimes):F2} ms, trimmed mean {Trimmed(noneTimes):F2} ms; " +
                $"all median {Median(allTimes):F2} ms, trimmed mean {Trimmed(allTimes):F2} ms; all / none {Median(allTimes) / Median(noneTimes):F3} (medians), {Trimmed(allTimes) / Trimmed(noneTimes):F3} (trimmed means)"));
        }
        finally
        {
            none.Cleanup();
            all.Cleanup();
        }
    }

    private static double Median(List<double> times) => times.Order().ElementAt(times.Count / 2);

    private static double Trimmed(List<double> times)
    {
        var cut = times.Count / 10;
        return times.Order().Skip(cut).Take(times.Count - (2 * cut)).Average();
    }
}
