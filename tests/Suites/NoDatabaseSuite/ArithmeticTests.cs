[assembly: Deflake.Xunit.Ordering.DeflakeOrder]

namespace NoDatabaseSuite;

/// <summary>Tests without a database: chaos modes cannot change them, so a hunt must not claim it checked them.</summary>
public sealed class ArithmeticTests
{
    [Fact]
    public void Two_and_two_make_four() => Assert.Equal(4, 2 + 2);

    [Fact]
    public void Ten_halved_is_five() => Assert.Equal(5, 10 / 2);
}

public sealed class TextTests
{
    [Fact]
    public void Upper_case_of_deflake_is_DEFLAKE() => Assert.Equal("DEFLAKE", "deflake".ToUpperInvariant());
}
