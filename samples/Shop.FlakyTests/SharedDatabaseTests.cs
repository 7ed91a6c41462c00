using Deflake;

namespace Shop.FlakyTests;

/// <summary>
/// One database for the whole class, as many suites do to save time (seed 002: data bleeds between tests that
/// share a database). Deliberate here: it is the planted order dependency.
/// </summary>
public sealed class SharedShopDatabase(ShopDatabase assembly) : IAsyncLifetime
{
    public TestDatabase Database { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Database = await assembly.RentAsync(TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await Database.DisposeAsync();
}

public sealed class SharedDatabaseTests(SharedShopDatabase shared) : IClassFixture<SharedShopDatabase>
{
    [Fact]
    public async Task The_catalogue_lists_five_products()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await shared.Database.OpenConnectionAsync(ct);

        Assert.Equal(5, (await new ShopService(connection).ListProductsAsync(ct)).Count);
    }

    [Fact]
    public async Task The_mug_costs_nine_euros()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await shared.Database.OpenConnectionAsync(ct);

        var mug = Assert.Single(await new ShopService(connection).ListProductsAsync(ct), p => p.Sku == "MUG-01");
        Assert.Equal(900, mug.PriceCents);
    }

    // The polluter (seed 002): correct on its own, but it leaves its customer in the shared database.
    [Fact]
    public async Task A_customer_can_sign_up()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await shared.Database.OpenConnectionAsync(ct);

        var fay = await new ShopService(connection).CreateCustomerAsync("fay@example.test", "Fay", ct);

        Assert.True(fay.Id > 0);
    }

    // PLANTED (seed 002), the victim: passes when it runs before the polluter above, fails after it.
    [Fact]
    public async Task A_new_shop_has_no_customers()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await shared.Database.OpenConnectionAsync(ct);
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM customers";

        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync(ct))!);
    }
}
