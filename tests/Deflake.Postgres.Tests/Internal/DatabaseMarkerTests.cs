using Deflake.Postgres.Internal;

namespace Deflake.Postgres.Tests.Internal;

public sealed class DatabaseMarkerTests
{
    [Fact]
    public void A_marker_survives_a_round_trip_through_its_json()
    {
        var marker = new DatabaseMarker
        {
            Kind = "clone",
            Owner = "0123456789",
            ProcessId = 42,
            Machine = "ci-'runner'",
            Created = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero),
            Fingerprint = "abcdef",
        };

        Assert.Equal(marker, DatabaseMarker.TryParse(marker.ToJson()));
        Assert.StartsWith("{\"deflake\":1,", marker.ToJson(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("owned by someone else")]
    [InlineData("{\"deflake\":2,\"kind\":\"clone\"}")]
    [InlineData("{\"deflake\":1,\"kind\":\"something\"}")]
    [InlineData("{\"deflake\":1,\"kind\":")]
    [InlineData("{\"name\":\"deflake\"}")]
    public void Anything_else_is_not_a_marker(string? comment)
        => Assert.Null(DatabaseMarker.TryParse(comment));
}
