using Deflake.Xunit;

namespace Shop.Tests;

public sealed class CartTests(ShopDatabase db) : DatabaseTest<ShopDatabase>(db)
{
    [Fact]
    public async Task Adding_the_same_product_twice_adds_up_the_quantity()
    {
        await using var connection = await Database.OpenConnectionAsync(TestContext.Current.CancellationToken);
        var shop = new ShopService(connection);
        var dan = await shop.CreateCustomerAsync("dan@example.test", "Dan", TestContext.Current.CancellationToken);

        await shop.AddToCartAsync(dan.Id, "TEE-01", 1, TestContext.Current.CancellationToken);
        await shop.AddToCartAsync(dan.Id, "TEE-01", 2, TestContext.Current.CancellationToken);

        Assert.Equal(3, await shop.CartItemCountAsync(dan.Id, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Emptying_the_cart_leaves_no_items()
    {
        await using var connection = await Database.OpenConnectionAsync(TestContext.Current.CancellationToken);
        var shop = new ShopService(connection);
        var eve = await shop.CreateCustomerAsync("eve@example.test", "Eve", TestContext.Current.CancellationToken);
        await shop.AddToCartAsync(eve.Id, "BAG-01", 4, TestContext.Current.CancellationToken);

        await shop.EmptyCartAsync(eve.Id, TestContext.Current.CancellationToken);

        Assert.Equal(0, await shop.CartItemCountAsync(eve.Id, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Products_are_listed_by_sku()
    {
        await using var connection = await Database.OpenConnectionAsync(TestContext.Current.CancellationToken);
        var shop = new ShopService(connection);

        var products = await shop.ListProductsAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["BAG-01", "CAP-01", "MUG-01", "PEN-01", "TEE-01"], products.Select(p => p.Sku));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task Each_test_sees_only_its_own_customers(int customers)
    {
        // Seed 002: tests that share one database see each other's rows; with Deflake every test has its own.
        await using var connection = await Database.OpenConnectionAsync(TestContext.Current.CancellationToken);
        var shop = new ShopService(connection);
        for (var i = 0; i < customers; i++)
        {
            await shop.CreateCustomerAsync($"c{i}@example.test", $"Customer {i}", TestContext.Current.CancellationToken);
            await Task.Yield();
        }

        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM customers";
        Assert.Equal(customers, Convert.ToInt32(await count.ExecuteScalarAsync(TestContext.Current.CancellationToken), System.Globalization.CultureInfo.InvariantCulture));
    }
}
