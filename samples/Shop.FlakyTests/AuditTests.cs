using Deflake.Xunit;
using Microsoft.Data.Sqlite;

namespace Shop.FlakyTests;

/// <summary>The paired audit row of an order (seed 000: aligned primary keys).</summary>
public sealed class AuditTests(ShopDatabase db) : DatabaseTest<ShopDatabase>(db)
{
    [Fact]
    public async Task Checkout_writes_one_audit_row_for_the_order()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var bob = await shop.CreateCustomerAsync("bob@example.test", "Bob", ct);
        await shop.AddToCartAsync(bob.Id, "CAP-01", 1, ct);

        var order = await shop.CheckoutAsync(bob.Id, ct);

        var audit = Assert.Single(await shop.AuditForAsync("order", order.Id, ct));
        Assert.Equal("created", audit.Action);
    }

    // PLANTED (seed 000): looks the audit row up by its own id, using the order's id. It passes while both tables
    // count from 1, as they do in a fresh database, and fails as soon as their identities are not aligned
    // (DEFLAKE_CHAOS=identities gives every table its own range). The fix: look it up by entity and entity_id.
    [Fact]
    public async Task The_audit_row_of_an_order_can_be_read_back()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var dora = await shop.CreateCustomerAsync("dora@example.test", "Dora", ct);
        await shop.AddToCartAsync(dora.Id, "MUG-01", 1, ct);
        var order = await shop.CheckoutAsync(dora.Id, ct);

        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT entity, entity_id, action FROM audit_log WHERE id = @id";
        command.Parameters.Add(new SqliteParameter("@id", order.Id));
        await using var reader = await command.ExecuteReaderAsync(ct);

        Assert.True(await reader.ReadAsync(ct), $"no audit row with id {order.Id}");
        Assert.Equal("order", reader.GetString(0));
        Assert.Equal(order.Id, reader.GetInt64(1));
    }
}
