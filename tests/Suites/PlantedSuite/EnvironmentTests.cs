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

    // PLANTED time zone: a shift report that keeps local clock times and assumes they are whole hours from UTC and at
    // most half a day away (true on most developer machines and on CI in UTC); every zone the timezone mode picks breaks
    // it (+14:00, -03:30, +05:45, +12:45, -09:30). One instant is read, so no clock tick between two reads can fail it.
    [Fact]
    public void A_shift_starts_on_the_quarter_hour_it_was_booked()
    {
        var booked = DateTime.UtcNow;
        var local = booked.ToLocalTime();
        Assert.Equal(booked.Minute, local.Minute);
        Assert.InRange((local - booked).TotalHours, -12, 12);
    }
}

/// <summary>PLANTED nondeterministic: fails at random in about 30% of runs, whatever ran before it.</summary>
public sealed class LotteryTests
{
    [Fact]
    public void The_lucky_draw_wins() => Assert.True(Random.Shared.Next(10) >= 3, "the draw lost (it fails in about 3 of 10 runs)");
}
