using Deflake.Xunit;

namespace Shop.FlakyTests;

public sealed class ProductTests(ShopDatabase db) : DatabaseTest<ShopDatabase>(db)
{
    [Fact]
    public async Task Products_are_listed_by_sku()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);

        var products = await new ShopService(connection).ListProductsAsync(ct);

        Assert.Equal(["BAG-01", "CAP-01", "MUG-01", "PEN-01", "TEE-01"], products.Select(p => p.Sku));
    }

    [Theory]
    [InlineData("MUG-01", 900)]
    [InlineData("PEN-01", 250)]
    [InlineData("TEE-01", 1900)]
    public async Task Every_product_has_its_price(string sku, long cents)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);

        var product = Assert.Single(await new ShopService(connection).ListProductsAsync(ct), p => p.Sku == sku);

        Assert.Equal(cents, product.PriceCents);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    public async Task Each_test_sees_only_its_own_customers(int customers)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        for (var i = 0; i < customers; i++)
        {
            await shop.CreateCustomerAsync($"c{i}@example.test", $"Customer {i}", ct);
        }

        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM customers";
        Assert.Equal((long)customers, (long)(await count.ExecuteScalarAsync(ct))!);
    }
}
