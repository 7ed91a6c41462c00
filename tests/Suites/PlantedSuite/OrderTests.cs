using Deflake;
using Shop;

namespace PlantedSuite;

/// <summary>One database for the whole class, as suites do to save time: the planted one-polluter order case.</summary>
public sealed class SharedShopDatabase(PlantedDatabase assembly) : IAsyncLifetime
{
    public TestDatabase Database { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Database = await assembly.RentAsync(TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await Database.DisposeAsync();
}

public sealed class SharedDatabaseTests(SharedShopDatabase shared) : IClassFixture<SharedShopDatabase>
{
    [Fact]
    public async Task The_mug_costs_nine_euros()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await shared.Database.OpenConnectionAsync(ct);

        var mug = Assert.Single(await new ShopService(connection).ListProductsAsync(ct), p => p.Sku == "MUG-01");
        Assert.Equal(900, mug.PriceCents);
    }

    // The polluter: correct on its own, but it leaves its customer in the class's shared database.
    [Fact]
    public async Task A_customer_can_sign_up()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await shared.Database.OpenConnectionAsync(ct);

        Assert.True((await new ShopService(connection).CreateCustomerAsync("fay@example.test", "Fay", ct)).Id > 0);
    }

    // PLANTED test-order, one polluter: passes before the test above, fails after it.
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

/// <summary>The ledger: the planted two-polluter victim and its first polluter, in one class.</summary>
public sealed class LedgerTests
{
    // First polluter: leaves an entry in the process-wide ledger.
    [Fact]
    public void Posting_an_entry_writes_the_ledger()
    {
        ProcessState.LedgerEntries++;
        Assert.True(ProcessState.LedgerEntries > 0);
    }

    // PLANTED test-order, two polluters: expects an empty ledger; fails after either polluter.
    [Fact]
    public void A_new_ledger_reports_no_entries() => Assert.Equal(0, ProcessState.LedgerEntries);
}

/// <summary>The second polluter of the ledger victim, in another class.</summary>
public sealed class RefundLedgerTests
{
    [Fact]
    public void Refunding_writes_the_ledger()
    {
        ProcessState.LedgerEntries++;
        Assert.True(ProcessState.LedgerEntries > 0);
    }
}

/// <summary>The state-setter: warms the catalog cache the brittle test reads.</summary>
public sealed class CatalogWarmUpTests
{
    [Fact]
    public void Warming_the_catalog_succeeds()
    {
        ProcessState.CatalogWarmed = true;
        Assert.True(ProcessState.CatalogWarmed);
    }
}

/// <summary>PLANTED brittle: passes only when the state-setter above ran before it.</summary>
public sealed class CatalogCacheTests
{
    [Fact]
    public void The_catalog_cache_is_warm() => Assert.True(ProcessState.CatalogWarmed, "the catalog cache is cold: nothing warmed it");
}
