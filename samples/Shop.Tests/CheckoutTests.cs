using Deflake;
using Deflake.Xunit;

namespace Shop.Tests;

// No base class: [DeflakeDatabase] gives every test of the class its own clone in TestDatabase.Current.
[DeflakeDatabase]
public sealed class CheckoutTests
{
    [Fact]
    public async Task Checkout_turns_the_cart_into_one_order_with_its_lines()
    {
        await using var connection = await TestDatabase.Current.OpenConnectionAsync(TestContext.Current.CancellationToken);
        var shop = new ShopService(connection);
        var alice = await shop.CreateCustomerAsync("alice@example.test", "Alice", TestContext.Current.CancellationToken);
        await shop.AddToCartAsync(alice.Id, "MUG-01", 2, TestContext.Current.CancellationToken);
        await shop.AddToCartAsync(alice.Id, "PEN-01", 1, TestContext.Current.CancellationToken);

        var order = await shop.CheckoutAsync(alice.Id, TestContext.Current.CancellationToken);

        Assert.Equal(2 * 900 + 250, order.TotalCents);
        Assert.Equal(2, order.Lines.Count);
        Assert.Equal(0, await shop.CartItemCountAsync(alice.Id, TestContext.Current.CancellationToken));
        Assert.Equal([order.Id], await shop.ListOrderIdsAsync(alice.Id, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Checkout_writes_the_audit_row_of_the_order()
    {
        await using var connection = await TestDatabase.Current.OpenConnectionAsync(TestContext.Current.CancellationToken);
        var shop = new ShopService(connection);
        var bob = await shop.CreateCustomerAsync("bob@example.test", "Bob", TestContext.Current.CancellationToken);
        await shop.AddToCartAsync(bob.Id, "CAP-01", 1, TestContext.Current.CancellationToken);

        var order = await shop.CheckoutAsync(bob.Id, TestContext.Current.CancellationToken);

        var audit = Assert.Single(await shop.AuditForAsync("order", order.Id, TestContext.Current.CancellationToken));
        Assert.Equal(order.Id, audit.EntityId);
        Assert.Equal("created", audit.Action);
    }

    [Fact]
    public async Task Checkout_of_an_empty_cart_is_refused()
    {
        await using var connection = await TestDatabase.Current.OpenConnectionAsync(TestContext.Current.CancellationToken);
        var shop = new ShopService(connection);
        var carol = await shop.CreateCustomerAsync("carol@example.test", "Carol", TestContext.Current.CancellationToken);

        await Assert.ThrowsAsync<InvalidOperationException>(() => shop.CheckoutAsync(carol.Id, TestContext.Current.CancellationToken));
    }
}
