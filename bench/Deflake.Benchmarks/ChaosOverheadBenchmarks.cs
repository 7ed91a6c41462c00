using BenchmarkDotNet.Attributes;
using Deflake;
using Deflake.Sqlite;
using Microsoft.Data.Sqlite;
using Shop;

/// <summary>
/// The stable sample suite (samples/Shop.Tests, same bodies, one after another) on SQLite, without chaos and under
/// <c>all</c>, side by side. Two operations: the suite's 14 database tests (each rents its database, opens a connection,
/// runs; the figure the chaos overhead target is about), and the whole suite of 21 tests, which adds the 7 tests that use
/// no database (leased sandbox accounts, each holding its lease for 21–26 ms, and unique data). Those 7 cost the same
/// in both modes, so they only dilute the ratio; read the database tests' row for the overhead.
/// Run: <c>dotnet run -c Release --project bench/Deflake.Benchmarks -- --filter '*ChaosOverhead*'</c>. The clones live
/// under the temporary folder: with <c>TMPDIR=/dev/shm</c> they are on tmpfs, which takes the disk's sync latency (the
/// bulk of a test's time, and of the noise on a shared machine) out and leaves the CPU chaos adds: the worst-case ratio.
/// </summary>
[MemoryDiagnoser]
public class ChaosOverheadBenchmarks
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "deflake-bench-chaos-" + Guid.NewGuid().ToString("N"));
    private static readonly string[] SandboxAccounts = ["sandbox-acct-1", "sandbox-acct-2", "sandbox-acct-3"];
    private TestDatabasePool _pool = null!;
    private Leases _leases = null!;

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
        _leases = Leases.Local(new LeaseOptions { Directory = Path.Combine(_directory, "leases") });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _leases.DisposeAsync().AsTask().GetAwaiter().GetResult();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Description = "Shop.Tests database tests (14)")]
    public Task DatabaseTestsAsync() => RunDatabaseTestsAsync();

    [Benchmark(Description = "Shop.Tests whole suite (21)")]
    public async Task SuiteAsync()
    {
        await RunDatabaseTestsAsync();

        // SandboxAccountTests: six leases of three sandbox accounts, and fresh unique data. No database.
        for (var test = 1; test <= 6; test++)
        {
            await using var account = await _leases.AcquireAsync("payment-sandbox", SandboxAccounts, TimeSpan.FromSeconds(30));
            await Task.Delay(20 + test);
        }

        var emails = Enumerable.Range(0, 1000).Select(_ => UniqueValue.Email("shopper")).ToList();
        if (emails.Distinct().Count() != emails.Count)
        {
            throw new InvalidOperationException("UniqueValue.Email repeated a value.");
        }
    }

    private async Task RunDatabaseTestsAsync()
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
            await TestAsync(async (shop, connection) =>
            {
                for (var i = 0; i < n; i++)
                {
                    await shop.CreateCustomerAsync($"c{i}@example.test", $"Customer {i}");
                    await Task.Yield();
                }

                await using var count = connection.CreateCommand();
                count.CommandText = "SELECT COUNT(*) FROM customers";
                return Convert.ToInt64(await count.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
            });
        }
    }

    private Task TestAsync(Func<ShopService, Task<long>> body) => TestAsync((shop, _) => body(shop));

    private async Task TestAsync(Func<ShopService, System.Data.Common.DbConnection, Task<long>> body)
    {
        await using var database = await _pool.RentAsync();
        await using var connection = await database.OpenConnectionAsync();
        await body(new ShopService(connection), connection);
    }
}
