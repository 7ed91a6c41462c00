using System.Globalization;
using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Hunting;

/// <summary>
/// The figures of docs/hunt.md on chaos confirmation (issue 15): how many runs the synthetic planted hunts take, and how
/// often a test failing at random 30% of the time is blamed on a chaos mode. The tests run a modest number of hunts and
/// bound the results; with <c>DEFLAKE_FIGURES=FILE</c> set they run the documented numbers and append them to FILE.
/// </summary>
public sealed class ChaosConfirmationFigures
{
    private static readonly IReadOnlyList<string> AllModes = ["identities", "rows", EnvironmentChaos.Culture, EnvironmentChaos.TimeZone];

    private static string? FiguresFile => Environment.GetEnvironmentVariable("DEFLAKE_FIGURES") is { Length: > 0 } file ? file : null;

    private static void Report(string line)
    {
        if (FiguresFile is { } file)
        {
            File.AppendAllText(file, line + Environment.NewLine);
        }
    }

    private static bool ChaosCause(Finding finding)
        => finding.Cause is FlakeCause.IdentityAlignment or FlakeCause.RowOrder or FlakeCause.Culture or FlakeCause.TimeZone;

    /// <summary>
    /// Hunts of the synthetic planted suite (seeds 1..n): mean and median runs, and the hunts that blamed its random test
    /// on a mode, or on a test (the order rules' own chance, (1 − f)³ · f³ per hypothesis: docs/hunt.md). Every other
    /// planted test must come out as planted.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_synthetic_planted_hunts_find_every_class_and_rarely_blame_the_random_test(bool allModes)
    {
        var modes = allModes ? AllModes : HuntOptions.DefaultModes;
        var hunts = FiguresFile is null ? 20 : 100;
        var counts = new List<int>();
        var onMode = new List<int>();
        var onTest = new List<int>();
        foreach (var seed in Enumerable.Range(1, hunts))
        {
            var outcome = await new Hunter(SharedDiagnosisTests.PlantedSuite(new Random(seed)), new HuntOptions(seed, HuntOptions.DefaultRandomOrders, modes, "Planted"))
                .HuntAsync(TestContext.Current.CancellationToken);
            SharedDiagnosisTests.AssertFoundAsPlanted(outcome with { Findings = [.. outcome.Findings.Where(f => f.Test != SharedDiagnosisTests.Lottery)] });
            counts.Add(outcome.Runs.Count);
            if (outcome.Findings.SingleOrDefault(f => f.Test == SharedDiagnosisTests.Lottery) is { } random)
            {
                (ChaosCause(random) ? onMode : random.Polluter is not null || random.StateSetter is not null ? onTest : []).Add(seed);
            }
        }

        counts.Sort();
        Report(string.Create(CultureInfo.InvariantCulture,
            $"planted, {(allModes ? "--modes all" : "default modes")}, seeds 1-{hunts}: mean runs {counts.Average():F2}, median {(counts[(hunts - 1) / 2] + counts[hunts / 2]) / 2.0}, {counts[0]}-{counts[^1]}; random test blamed on a mode in {onMode.Count} (seeds {string.Join(' ', onMode)}), on a test in {onTest.Count} (seeds {string.Join(' ', onTest)})"));
        Assert.True(counts.Average() <= (allModes ? 40 : 36), $"runs per hunt: {string.Join(", ", counts)}");
        Assert.True(onMode.Count + onTest.Count <= Math.Max(1, hunts / 50), $"random test blamed in hunts {string.Join(", ", onMode.Concat(onTest))}");
    }

    /// <summary>
    /// A small suite with one test failing at random 30% of the time (each hunt its own seeded draws): the share of hunts
    /// that give it a chaos cause: before the confirmation 1.29% (default modes) and 2.73% (all four), after it 0.39% and
    /// 0.78% (20,000 hunts each). The bounds tell the two apart on the 1,000 hunts the test runs without DEFLAKE_FIGURES.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_test_failing_at_random_is_rarely_blamed_on_a_chaos_mode(bool allModes)
    {
        var modes = allModes ? AllModes : HuntOptions.DefaultModes;
        var hunts = FiguresFile is null ? 1000 : 20_000;
        var blamed = 0;
        var suspected = 0;
        var runs = 0L;
        for (var hunt = 0; hunt < hunts; hunt++)
        {
            var random = new Random(hunt);
            var runner = new SyntheticRunner();
            foreach (var i in Enumerable.Range(0, 6))
            {
                runner.Add($"Class{i}.Ok");
            }

            runner.Add("Clock.Sometimes", (_, _) => random.NextDouble() < 0.3);
            var outcome = await new Hunter(runner, new HuntOptions(hunt, HuntOptions.DefaultRandomOrders, modes, "S")).HuntAsync(TestContext.Current.CancellationToken);
            runs += outcome.Runs.Count;
            var finding = outcome.Findings.SingleOrDefault();
            if (finding is not null)
            {
                suspected++;
                blamed += ChaosCause(finding) ? 1 : 0;
            }
        }

        Report(string.Create(CultureInfo.InvariantCulture,
            $"random 30%, {(allModes ? "--modes all" : "default modes")}, {hunts} hunts: found in {suspected}, blamed on a chaos mode in {blamed} ({100.0 * blamed / hunts:F2}%), mean runs {(double)runs / hunts:F2}"));
        // Measured over 20,000 hunts: 0.39% and 0.78% (before the confirmation: 1.29% and 2.73%).
        Assert.True(blamed <= hunts * (allModes ? 0.015 : 0.008), $"blamed on a mode in {blamed} of {hunts} hunts");
    }
}
