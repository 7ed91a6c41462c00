using System.Globalization;

namespace PlantedSuite;

/// <summary>Prices as text: one correct test, one planted culture case.</summary>
public sealed class PriceTextTests
{
    [Fact]
    public void A_price_is_parsed_from_invariant_text() => Assert.Equal(9.99m, decimal.Parse("9.99", CultureInfo.InvariantCulture));

    // PLANTED culture: parses with the machine's culture (CurrentCulture, as decimal.Parse without a provider does); under de-DE "9.99" is 999, under fr-FR it does not parse.
    [Fact]
    public void A_price_is_parsed_from_text() => Assert.Equal(9.99m, decimal.Parse("9.99", CultureInfo.CurrentCulture));
}

/// <summary>Time stamps: one correct test, one planted time-zone case.</summary>
public sealed class TimeStampTests
{
    [Fact]
    public void A_utc_stamp_round_trips()
    {
        var now = DateTime.UtcNow;
        Assert.Equal(now, DateTime.Parse(now.ToString("O", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind));
    }

    // PLANTED time zone: stamps with local time and compares with UTC; right only where local time is UTC.
    [Fact]
    public void An_order_is_stamped_with_the_current_utc_hour()
    {
        var stamp = DateTime.Now;
        Assert.Equal(DateTime.UtcNow.ToString("yyyy-MM-dd HH", CultureInfo.InvariantCulture), stamp.ToString("yyyy-MM-dd HH", CultureInfo.InvariantCulture));
    }
}

/// <summary>PLANTED nondeterministic: fails at random in about 30% of runs, whatever ran before it.</summary>
public sealed class LotteryTests
{
    [Fact]
    public void The_lucky_draw_wins() => Assert.True(Random.Shared.Next(10) >= 3, "the draw lost (it fails in about 3 of 10 runs)");
}
