using Deflake.Xunit;

namespace Shop.FlakyTests;

public sealed class CheckoutTests(ShopDatabase db) : DatabaseTest<ShopDatabase>(db)
{
    [Fact]
    public async Task Checkout_turns_the_cart_into_one_order_with_its_lines()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var alice = await shop.CreateCustomerAsync("alice@example.test", "Alice", ct);
        await shop.AddToCartAsync(alice.Id, "MUG-01", 2, ct);
        await shop.AddToCartAsync(alice.Id, "PEN-01", 1, ct);

        var order = await shop.CheckoutAsync(alice.Id, ct);

        Assert.Equal(2 * 900 + 250, order.TotalCents);
        Assert.Equal(2, order.Lines.Count);
        Assert.Equal([order.Id], await shop.ListOrderIdsAsync(alice.Id, ct));
    }

    [Fact]
    public async Task Checkout_empties_the_cart()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var kim = await shop.CreateCustomerAsync("kim@example.test", "Kim", ct);
        await shop.AddToCartAsync(kim.Id, "TEE-01", 1, ct);

        await shop.CheckoutAsync(kim.Id, ct);

        Assert.Equal(0, await shop.CartItemCountAsync(kim.Id, ct));
    }

    [Fact]
    public async Task Checkout_of_an_empty_cart_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var carol = await shop.CreateCustomerAsync("carol@example.test", "Carol", ct);

        await Assert.ThrowsAsync<InvalidOperationException>(() => shop.CheckoutAsync(carol.Id, ct));
    }

    [Fact]
    public async Task A_customer_sees_only_their_own_orders()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var lea = await shop.CreateCustomerAsync("lea@example.test", "Lea", ct);
        var max = await shop.CreateCustomerAsync("max@example.test", "Max", ct);
        await shop.AddToCartAsync(lea.Id, "CAP-01", 1, ct);
        await shop.AddToCartAsync(max.Id, "BAG-01", 1, ct);

        var leasOrder = await shop.CheckoutAsync(lea.Id, ct);
        await shop.CheckoutAsync(max.Id, ct);

        Assert.Equal([leasOrder.Id], await shop.ListOrderIdsAsync(lea.Id, ct));
    }

    [Fact]
    public async Task Order_lines_keep_the_price_paid()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var ned = await shop.CreateCustomerAsync("ned@example.test", "Ned", ct);
        await shop.AddToCartAsync(ned.Id, "TEE-01", 3, ct);

        var order = await shop.CheckoutAsync(ned.Id, ct);

        var line = Assert.Single(order.Lines);
        Assert.Equal(3, line.Quantity);
        Assert.Equal(1900, line.PriceCents);
    }
}
