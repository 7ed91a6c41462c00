namespace Deflake.Tests;

public sealed class ChaosModeNamesTests
{
    [Theory]
    [InlineData(null, ChaosModes.None)]
    [InlineData("", ChaosModes.None)]
    [InlineData("none", ChaosModes.None)]
    [InlineData("identities", ChaosModes.Identities)]
    [InlineData("rows", ChaosModes.Rows)]
    [InlineData(" Rows , identities ", ChaosModes.All)]
    [InlineData("all", ChaosModes.All)]
    public void Chaos_lists_parse_case_insensitively(string? text, ChaosModes expected)
    {
        Assert.Equal(expected, ChaosModeNames.Parse(text));
    }

    [Fact]
    public void An_unknown_mode_is_refused_with_the_valid_ones_listed()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => ChaosModeNames.Parse("identities,shuffle"));

        Assert.Equal("DEFLAKE_CHAOS", error.Setting);
        Assert.Contains("'shuffle'", error.Message, StringComparison.Ordinal);
        Assert.Contains("identities, rows, all, none", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ChaosModes.None, "none")]
    [InlineData(ChaosModes.Identities, "identities")]
    [InlineData(ChaosModes.Rows, "rows")]
    [InlineData(ChaosModes.All, "all")]
    public void Formatting_round_trips(ChaosModes modes, string text)
    {
        Assert.Equal(text, ChaosModeNames.Format(modes));
        Assert.Equal(modes, ChaosModeNames.Parse(text));
    }

    [Fact]
    public void All_enables_every_mode_and_none_is_the_default()
    {
        Assert.True(ChaosModeNames.Parse("all").HasFlag(ChaosModes.Identities));
        Assert.True(ChaosModeNames.Parse("all").HasFlag(ChaosModes.Rows));
        var resolved = new TestDatabaseOptions { Schema = SchemaSource.FromDelegate("s", "1", (_, _) => Task.CompletedTask) }.Resolve().Chaos;
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(DeflakeEnvironment.Chaos)))
        {
            Assert.Equal(ChaosModes.None, resolved);
        }
    }
}
