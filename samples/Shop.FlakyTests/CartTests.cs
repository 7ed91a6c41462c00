using Deflake.Xunit;

namespace Shop.FlakyTests;

public sealed class CartTests(ShopDatabase db) : DatabaseTest<ShopDatabase>(db)
{
    [Fact]
    public async Task Adding_the_same_product_twice_adds_up_the_quantity()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var dan = await shop.CreateCustomerAsync("dan@example.test", "Dan", ct);

        await shop.AddToCartAsync(dan.Id, "TEE-01", 1, ct);
        await shop.AddToCartAsync(dan.Id, "TEE-01", 2, ct);

        Assert.Equal(3, await shop.CartItemCountAsync(dan.Id, ct));
    }

    [Fact]
    public async Task Emptying_the_cart_leaves_no_items()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var eve = await shop.CreateCustomerAsync("eve@example.test", "Eve", ct);
        await shop.AddToCartAsync(eve.Id, "BAG-01", 4, ct);

        await shop.EmptyCartAsync(eve.Id, ct);

        Assert.Equal(0, await shop.CartItemCountAsync(eve.Id, ct));
    }

    [Fact]
    public async Task A_new_customer_has_an_empty_cart()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var gus = await shop.CreateCustomerAsync("gus@example.test", "Gus", ct);

        Assert.Equal(0, await shop.CartItemCountAsync(gus.Id, ct));
    }

    [Fact]
    public async Task Adding_nothing_to_the_cart_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var hal = await shop.CreateCustomerAsync("hal@example.test", "Hal", ct);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => shop.AddToCartAsync(hal.Id, "PEN-01", 0, ct));
    }

    [Fact]
    public async Task Two_customers_have_separate_carts()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var ivy = await shop.CreateCustomerAsync("ivy@example.test", "Ivy", ct);
        var jon = await shop.CreateCustomerAsync("jon@example.test", "Jon", ct);

        await shop.AddToCartAsync(ivy.Id, "MUG-01", 2, ct);

        Assert.Equal(2, await shop.CartItemCountAsync(ivy.Id, ct));
        Assert.Equal(0, await shop.CartItemCountAsync(jon.Id, ct));
    }
}
