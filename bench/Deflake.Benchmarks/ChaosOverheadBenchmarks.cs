using BenchmarkDotNet.Attributes;
using Deflake;
using Deflake.Sqlite;
using Microsoft.Data.Sqlite;
using Shop;

/// <summary>
/// The stable sample suite (samples/Shop.Tests: its 14 tests, same bodies) on SQLite, without chaos and under
/// <c>all</c>, side by side. One operation = the whole suite: each test rents its database, opens a connection, runs.
/// Run: <c>dotnet run -c Release --project bench/Deflake.Benchmarks -- --filter '*ChaosOverhead*'</c>.
/// </summary>
[MemoryDiagnoser]
public class ChaosOverheadBenchmarks
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "deflake-bench-chaos-" + Guid.NewGuid().ToString("N"));
    private TestDatabasePool _pool = null!;

    [Params(ChaosModes.None, ChaosModes.All)]
    public ChaosModes Chaos { get; set; }

    // Synchronous on purpose: the in-process toolchain (--inProcess, used on busy machines) does not await async setups.
    [GlobalSetup]
    public void Setup()
    {
        _pool = TestDatabasePool.CreateAsync(new SqliteEngine(new SqliteEngineOptions { Directory = _directory }), new TestDatabaseOptions
        {
            Schema = SchemaSource.FromSqlDirectory(Path.Combine(AppContext.BaseDirectory, "migrations")),
            Chaos = Chaos,
            Seed = 42,
        }).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Description = "Shop.Tests suite (14 tests)")]
    public async Task SuiteAsync()
    {
        await TestAsync(async shop =>
        {
            var alice = await shop.CreateCustomerAsync("alice@example.test", "Alice");
            await shop.AddToCartAsync(alice.Id, "MUG-01", 2);
            await shop.AddToCartAsync(alice.Id, "PEN-01", 1);
            var order = await shop.CheckoutAsync(alice.Id);
            await shop.CartItemCountAsync(alice.Id);
            await shop.ListOrderIdsAsync(alice.Id);
            return order.Id;
        });
        await TestAsync(async shop =>
        {
            var bob = await shop.CreateCustomerAsync("bob@example.test", "Bob");
            await shop.AddToCartAsync(bob.Id, "CAP-01", 1);
            var order = await shop.CheckoutAsync(bob.Id);
            return (await shop.AuditForAsync("order", order.Id)).Count;
        });
        await TestAsync(async shop =>
        {
            var carol = await shop.CreateCustomerAsync("carol@example.test", "Carol");
            try
            {
                await shop.CheckoutAsync(carol.Id);
            }
            catch (InvalidOperationException)
            {
            }

            return 0;
        });
        await TestAsync(async shop =>
        {
            var dan = await shop.CreateCustomerAsync("dan@example.test", "Dan");
            await shop.AddToCartAsync(dan.Id, "TEE-01", 1);
            await shop.AddToCartAsync(dan.Id, "TEE-01", 2);
            return await shop.CartItemCountAsync(dan.Id);
        });
        await TestAsync(async shop =>
        {
            var eve = await shop.CreateCustomerAsync("eve@example.test", "Eve");
            await shop.AddToCartAsync(eve.Id, "BAG-01", 4);
            await shop.EmptyCartAsync(eve.Id);
            return await shop.CartItemCountAsync(eve.Id);
        });
        await TestAsync(async shop => (await shop.ListProductsAsync()).Count);
        for (var customers = 1; customers <= 8; customers++)
        {
            var n = customers;
            await TestAsync(async shop =>
            {
                for (var i = 0; i < n; i++)
                {
                    await shop.CreateCustomerAsync($"c{i}@example.test", $"Customer {i}");
                }

                return n;
            });
        }
    }

    private async Task TestAsync(Func<ShopService, Task<long>> body)
    {
        await using var database = await _pool.RentAsync();
        await using var connection = await database.OpenConnectionAsync();
        await body(new ShopService(connection));
    }
}
