namespace Deflake.Tests;

public sealed class TestDatabaseOptionsTests
{
    private static readonly SchemaSource Schema = SchemaSource.FromDelegate("s", "1", (_, _) => Task.CompletedTask);

    [Fact]
    public void Defaults_come_from_the_cpu_count_and_are_bounded()
    {
        var resolved = new TestDatabaseOptions { Schema = Schema, Chaos = ChaosModes.None, Seed = 5 }.Resolve();

        Assert.InRange(resolved.PoolSize, 2, 16);
        Assert.True(resolved.MaxDatabases >= resolved.PoolSize);
        Assert.Equal(5, resolved.Seed);
    }

    [Theory]
    [InlineData(-1, 0, "TestDatabaseOptions.PoolSize")]
    [InlineData(0, -1, "TestDatabaseOptions.MaxDatabases")]
    [InlineData(8, 4, "TestDatabaseOptions.MaxDatabases")]
    public void Bad_sizes_are_refused_naming_the_setting(int poolSize, int max, string setting)
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() =>
            new TestDatabaseOptions { Schema = Schema, PoolSize = poolSize, MaxDatabases = max }.Resolve());

        Assert.Equal(setting, error.Setting);
    }

    [Fact]
    public void A_missing_schema_is_refused()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => new TestDatabaseOptions().Resolve());

        Assert.Equal("TestDatabaseOptions.Schema", error.Setting);
        Assert.Contains("SchemaSource.FromSqlDirectory", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("99999999999")]
    public void A_seed_that_is_not_an_integer_is_refused(string text)
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => DeflakeEnvironment.ParseSeed(text));

        Assert.Equal("DEFLAKE_SEED", error.Setting);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("0", false)]
    [InlineData("1", true)]
    [InlineData("true", true)]
    public void Keep_failed_flags_parse(string? text, bool expected)
    {
        Assert.Equal(expected, DeflakeEnvironment.ParseFlag(text, DeflakeEnvironment.KeepFailed));
    }

    [Fact]
    public void A_flag_that_is_not_one_or_zero_is_refused()
    {
        Assert.Throws<DeflakeConfigurationException>(() => DeflakeEnvironment.ParseFlag("yes please", DeflakeEnvironment.KeepFailed));
    }
}
