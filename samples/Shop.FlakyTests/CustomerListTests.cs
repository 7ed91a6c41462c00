using System.Data.Common;
using Deflake.Xunit;

namespace Shop.FlakyTests;

/// <summary>Listing customers (seed 001: row order without ORDER BY).</summary>
public sealed class CustomerListTests(ShopDatabase db) : DatabaseTest<ShopDatabase>(db)
{
    [Fact]
    public async Task Customers_are_listed_by_name()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        await shop.CreateCustomerAsync("zoe@example.test", "Zoe", ct);
        await shop.CreateCustomerAsync("adam@example.test", "Adam", ct);
        await shop.CreateCustomerAsync("mia@example.test", "Mia", ct);

        Assert.Equal(["Adam", "Mia", "Zoe"], await NamesAsync(connection, "SELECT name FROM customers ORDER BY name", ct));
    }

    [Fact]
    public async Task A_customer_signing_up_twice_with_one_email_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        await shop.CreateCustomerAsync("sam@example.test", "Sam", ct);

        await Assert.ThrowsAnyAsync<DbException>(() => shop.CreateCustomerAsync("sam@example.test", "Sam again", ct));
    }

    // PLANTED (seed 001): insert b, c, a; delete one; insert it again; read without ORDER BY and expect the order the
    // rows happen to come back in today. Nothing guarantees it; DEFLAKE_CHAOS=rows reverses unordered results at
    // random, and it fails. It reads several times so that one reversed read is enough. The fix: ORDER BY.
    [Fact]
    public async Task Customers_are_listed_in_the_order_they_signed_up()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        var shop = new ShopService(connection);
        var ann = await shop.CreateCustomerAsync("ann@example.test", "Ann", ct);
        await shop.CreateCustomerAsync("ben@example.test", "Ben", ct);
        await shop.CreateCustomerAsync("cat@example.test", "Cat", ct);
        await using (var delete = connection.CreateCommand())
        {
            delete.CommandText = "DELETE FROM customers WHERE id = " + ann.Id;
            await delete.ExecuteNonQueryAsync(ct);
        }

        await shop.CreateCustomerAsync("ann@example.test", "Ann", ct);

        for (var read = 0; read < 12; read++)
        {
            Assert.Equal(["Ben", "Cat", "Ann"], await NamesAsync(connection, "SELECT name FROM customers", ct));
        }
    }

    private static async Task<List<string>> NamesAsync(DbConnection connection, string sql, CancellationToken ct)
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
