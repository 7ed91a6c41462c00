using Deflake.Cli.Commands;
using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Hunting;

public sealed class EnvironmentChaosTests
{
    [Fact]
    public void A_seed_picks_the_same_culture_and_zone_every_time_and_different_seeds_spread()
    {
        Assert.Equal(EnvironmentChaos.CultureFor(11), EnvironmentChaos.CultureFor(11));
        Assert.Equal(EnvironmentChaos.ZoneFor(11), EnvironmentChaos.ZoneFor(11));
        var cultures = Enumerable.Range(0, 60).Select(EnvironmentChaos.CultureFor).ToHashSet(StringComparer.Ordinal);
        var zones = Enumerable.Range(0, 60).Select(EnvironmentChaos.ZoneFor).ToHashSet(StringComparer.Ordinal);

        Assert.Equal(EnvironmentChaos.Cultures.Count, cultures.Count);
        Assert.Equal(EnvironmentChaos.Zones.Count, zones.Count);
        Assert.DoesNotContain(cultures, c => c.StartsWith("en", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_culture_writes_numbers_unlike_english_and_every_zone_is_hours_from_utc()
    {
        foreach (var culture in EnvironmentChaos.Cultures)
        {
            Assert.NotEqual("1.5", 1.5.ToString(new System.Globalization.CultureInfo(culture)));
        }

        foreach (var zone in EnvironmentChaos.Zones)
        {
            var offset = TimeZoneInfo.FindSystemTimeZoneById(zone).GetUtcOffset(DateTime.UtcNow);
            Assert.True(Math.Abs(offset.TotalHours) >= 3, $"{zone} is {offset} from UTC");
        }
    }

    [Fact]
    public void The_variables_set_culture_through_lc_all_and_lang_and_the_zone_through_tz()
    {
        var culture = EnvironmentChaos.Variables("culture", 3);
        var locale = EnvironmentChaos.CultureFor(3).Replace('-', '_') + ".UTF-8";
        Assert.Equal([new("LC_ALL", locale), new("LANG", locale)], culture);
        Assert.Equal([new KeyValuePair<string, string>("TZ", EnvironmentChaos.ZoneFor(3))], EnvironmentChaos.Variables("timezone", 3));
        Assert.Empty(EnvironmentChaos.Variables("rows", 3));
        Assert.Equal("none", EnvironmentChaos.DatabaseChaos(new RunRequest("r", RunOrderKind.Default, "culture", 3, false)));
        Assert.Equal("rows", EnvironmentChaos.DatabaseChaos(new RunRequest("r", RunOrderKind.Default, "rows", 3, false)));
    }

    [Fact]
    public void The_reproduce_command_sets_the_variables_and_no_database_chaos()
    {
        var runner = new XunitV3Runner("/abs/Suite.dll", Path.GetTempPath(), TimeSpan.FromMinutes(1), warmStart: false);
        var zone = runner.ReproduceCommand(new RunRequest("alone", RunOrderKind.Default, "timezone", 5, false, ["A.B.C"]));
        var culture = runner.ReproduceCommand(new RunRequest("alone", RunOrderKind.Default, "culture", 5, false, ["A.B.C"]));

        Assert.Contains($"TZ={EnvironmentChaos.ZoneFor(5)} DEFLAKE_SEED=5", zone, StringComparison.Ordinal);
        Assert.Contains($"LC_ALL={EnvironmentChaos.CultureFor(5).Replace('-', '_')}.UTF-8 LANG=", culture, StringComparison.Ordinal);
        Assert.DoesNotContain("DEFLAKE_CHAOS", zone + culture, StringComparison.Ordinal);
    }

    [Fact]
    public void The_modes_option_takes_culture_and_timezone_and_all_holds_them()
    {
        Assert.Equal(["culture", "timezone"], HuntCommand.ParseModes(["culture,timezone"]));
        Assert.Equal(["rows", "timezone"], HuntCommand.ParseModes(["rows", "timezone"]));
        Assert.Equal(["identities", "rows", "culture", "timezone"], HuntCommand.ParseModes(["all"]));
        var error = Assert.Throws<CliException>(() => HuntCommand.ParseModes(["weather"]));
        Assert.Contains("culture, timezone", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_test_that_fails_only_under_a_culture_or_a_zone_gets_that_cause_and_a_run_alone_under_it()
    {
        var runner = new SyntheticRunner();
        foreach (var i in Enumerable.Range(0, 8))
        {
            runner.Add($"Suite.Correct.T{i}");
        }

        runner.Add("Suite.Prices.Parse", (r, _) => r.Chaos == "culture");
        runner.Add("Suite.Stamps.Hour", (r, _) => r.Chaos == "timezone");

        var outcome = await new Hunter(runner, new HuntOptions(9, 3, ["rows", "culture", "timezone"], "Suite")).HuntAsync(TestContext.Current.CancellationToken);

        var causes = outcome.Findings.ToDictionary(f => f.Test, f => f.Cause);
        Assert.Equal(2, causes.Count);
        Assert.Equal(FlakeCause.Culture, causes["Suite.Prices.Parse"]);
        Assert.Equal(FlakeCause.TimeZone, causes["Suite.Stamps.Hour"]);
        Assert.Contains(runner.Requests, r => r.Chaos == "culture" && r.Tests is ["Suite.Prices.Parse"] && !r.Parallel);
        Assert.Contains(runner.Requests, r => r.Chaos == "timezone" && r.Tests is ["Suite.Stamps.Hour"] && !r.Parallel);
        // The environment is the process's: never a per-test mode.
        Assert.DoesNotContain(runner.Requests, r => r.TestChaos?.Values.Any(EnvironmentChaos.IsEnvironmentMode) == true);
        Assert.Contains(EnvironmentChaos.CultureFor(9), outcome.Findings.Single(f => f.Cause == FlakeCause.Culture).Evidence, StringComparison.Ordinal);
        Assert.Equal(["rows", "culture", "timezone"], outcome.CheckedModes);
    }
}
