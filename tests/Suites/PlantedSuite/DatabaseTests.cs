using System.Data.Common;
using Deflake.Xunit;
using Microsoft.Data.Sqlite;
using Shop;

namespace PlantedSuite;

/// <summary>Audit rows: one correct test, one planted identity-alignment case.</summary>
public sealed class AuditTests(PlantedDatabase db) : DatabaseTest<PlantedDatabase>(db)
{
    [Fact]
    public async Task Checkout_writes_one_audit_row()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var bob = await shop.CreateCustomerAsync("bob@example.test", "Bob", ct);
        await shop.AddToCartAsync(bob.Id, "CAP-01", 1, ct);
        var order = await shop.CheckoutAsync(bob.Id, ct);

        Assert.Equal("created", Assert.Single(await shop.AuditForAsync("order", order.Id, ct)).Action);
    }

    // PLANTED identity-alignment: reads the audit row by its own id, using the order's id; right only while both
    // tables count alike (DEFLAKE_CHAOS=identities gives each table its own range).
    [Fact]
    public async Task The_audit_row_of_an_order_is_read_back_by_id()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var dora = await shop.CreateCustomerAsync("dora@example.test", "Dora", ct);
        await shop.AddToCartAsync(dora.Id, "MUG-01", 1, ct);
        var order = await shop.CheckoutAsync(dora.Id, ct);

        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT entity_id FROM audit_log WHERE id = @id";
        command.Parameters.Add(new SqliteParameter("@id", order.Id));
        Assert.Equal(order.Id, (long?)await command.ExecuteScalarAsync(ct));
    }
}

/// <summary>Customer lists: one correct test, one planted row-order case.</summary>
public sealed class CustomerListTests(PlantedDatabase db) : DatabaseTest<PlantedDatabase>(db)
{
    [Fact]
    public async Task Customers_are_listed_by_name()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        await shop.CreateCustomerAsync("zoe@example.test", "Zoe", ct);
        await shop.CreateCustomerAsync("adam@example.test", "Adam", ct);

        Assert.Equal(["Adam", "Zoe"], await Names.ReadAsync(connection, "SELECT name FROM customers ORDER BY name", ct));
    }

    // PLANTED row-order: reads without ORDER BY and expects insertion order (DEFLAKE_CHAOS=rows shuffles it).
    [Fact]
    public async Task Customers_are_listed_in_sign_up_order()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        foreach (var name in new[] { "Ann", "Ben", "Cat", "Dan" })
        {
            await shop.CreateCustomerAsync($"{name.ToLowerInvariant()}@example.test", name, ct);
        }

        for (var read = 0; read < 12; read++)
        {
            Assert.Equal(["Ann", "Ben", "Cat", "Dan"], await Names.ReadAsync(connection, "SELECT name FROM customers", ct));
        }
    }
}

/// <summary>Correct database tests: each has its own clone, whatever runs around it.</summary>
public sealed class CartTests(PlantedDatabase db) : DatabaseTest<PlantedDatabase>(db)
{
    [Fact]
    public async Task A_new_cart_is_empty()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var eve = await shop.CreateCustomerAsync("eve@example.test", "Eve", ct);

        Assert.Equal(0, await shop.CartItemCountAsync(eve.Id, ct));
    }

    [Fact]
    public async Task Adding_twice_counts_two_items()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var gus = await shop.CreateCustomerAsync("gus@example.test", "Gus", ct);
        await shop.AddToCartAsync(gus.Id, "PEN-01", 1, ct);
        await shop.AddToCartAsync(gus.Id, "PEN-01", 1, ct);

        Assert.Equal(2, await shop.CartItemCountAsync(gus.Id, ct));
    }

    [Fact]
    public async Task Emptying_a_cart_removes_its_items()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var hal = await shop.CreateCustomerAsync("hal@example.test", "Hal", ct);
        await shop.AddToCartAsync(hal.Id, "BAG-01", 3, ct);
        await shop.EmptyCartAsync(hal.Id, ct);

        Assert.Equal(0, await shop.CartItemCountAsync(hal.Id, ct));
    }

    [Fact]
    public async Task Checkout_totals_the_cart()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var ivy = await shop.CreateCustomerAsync("ivy@example.test", "Ivy", ct);
        await shop.AddToCartAsync(ivy.Id, "MUG-01", 2, ct);
        await shop.AddToCartAsync(ivy.Id, "PEN-01", 1, ct);

        Assert.Equal(2050, (await shop.CheckoutAsync(ivy.Id, ct)).TotalCents);
    }

    [Fact]
    public async Task An_order_is_read_back_with_its_lines()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var jo = await shop.CreateCustomerAsync("jo@example.test", "Jo", ct);
        await shop.AddToCartAsync(jo.Id, "TEE-01", 1, ct);
        var order = await shop.CheckoutAsync(jo.Id, ct);

        var read = await shop.GetOrderAsync(order.Id, ct);
        Assert.NotNull(read);
        Assert.Single(read.Lines);
    }

    [Fact]
    public async Task The_catalogue_lists_five_products()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);

        Assert.Equal(5, (await new ShopService(connection).ListProductsAsync(ct)).Count);
    }
}

/// <summary>Reads one text column.</summary>
internal static class Names
{
    public static async Task<List<string>> ReadAsync(DbConnection connection, string sql, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync(ct);
        var names = new List<string>();
        while (await reader.ReadAsync(ct))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }
}
