using Deflake.Postgres.Internal;

namespace Deflake.Postgres.Tests.Internal;

public sealed class QuoteTests
{
    [Theory]
    [InlineData("plain", "\"plain\"")]
    [InlineData("Mixed Case", "\"Mixed Case\"")]
    [InlineData("evil\"; drop database x; --", "\"evil\"\"; drop database x; --\"")]
    public void Identifiers_are_double_quoted_with_embedded_quotes_doubled(string name, string expected)
        => Assert.Equal(expected, Quote.Identifier(name));

    [Fact]
    public void Identifiers_longer_than_63_bytes_are_refused_rather_than_silently_truncated()
    {
        Assert.Equal(65, Quote.Identifier(new string('a', 63)).Length);
        Assert.Throws<ArgumentException>(() => Quote.Identifier(new string('a', 64)));
        Assert.Throws<ArgumentException>(() => Quote.Identifier(new string('é', 32)));
    }

    [Fact]
    public void Literals_are_single_quoted_with_embedded_quotes_doubled()
        => Assert.Equal("'it''s {\"a\":1}'", Quote.Literal("it's {\"a\":1}"));
}
