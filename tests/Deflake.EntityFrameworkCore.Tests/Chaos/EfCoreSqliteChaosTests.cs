using Deflake.EntityFrameworkCore.Tests.Contexts;
using Microsoft.EntityFrameworkCore;

namespace Deflake.EntityFrameworkCore.Tests.Chaos;

/// <summary>Chaos through an EF Core schema on SQLite.</summary>
public sealed class EfCoreSqliteChaosTests : IDisposable
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private readonly SqlitePools _pools = new();

    public void Dispose() => _pools.Dispose();

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public async Task Under_identities_the_first_ids_EF_Core_gets_are_each_tables_planned_start(int seed)
    {
        var (pool, engine) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(ShopContext.Create), ChaosModes.Identities, seed);
        await using (pool)
        {
            var starts = engine.IdentityChaos.Starts;
            Assert.Equal(["Orders", "Products"], starts.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(IdentityRangePlan.Create(seed, ["Orders", "Products"]).StartOf("Products"), starts["Products"]);
            // EF Core 9+'s migration lock table (INTEGER PRIMARY KEY, no AUTOINCREMENT) is the only table left counting from 1.
            Assert.Equal("__EFMigrationsLock", Assert.Single(engine.IdentityChaos.NotCovered).Key);

            await using var database = await pool.RentAsync(Token);
            await using var shop = await database.CreateDbContextAsync(ShopContext.Create, Token);
            var product = new Product { Name = "Teapot" };
            shop.Products.Add(product);
            await shop.SaveChangesAsync(Token);
            var order = new Order { ProductId = product.Id, Quantity = 3 };
            shop.Orders.Add(order);
            await shop.SaveChangesAsync(Token);

            Assert.Equal(starts["Products"], product.Id);
            Assert.Equal(starts["Orders"], order.Id);
            Assert.NotEqual(product.Id, order.Id);
            Assert.True(product.Id >= 1_000_000, $"product id {product.Id}");
            // Seed data from the migrations keeps its ids.
            Assert.Equal([1, 2], await shop.Products.Where(p => p.Name != "Teapot").OrderBy(p => p.Id).Select(p => p.Id).ToListAsync(Token));
        }
    }

    [Fact]
    public async Task Under_rows_a_context_from_CreateDbContextAsync_reads_in_a_shuffled_order_and_one_on_the_connection_string_does_not()
    {
        var names = new[] { "a", "b", "c", "d", "e" };
        var shuffled = 0;
        for (var seed = 1; seed <= 5; seed++)
        {
            var (pool, _) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(CatalogContext.Create), ChaosModes.Rows, seed);
            await using (pool)
            {
                await using var database = await pool.RentAsync(Token);
                await using var catalog = await database.CreateDbContextAsync(CatalogContext.Create, Token);
                catalog.Tags.AddRange(names.Select(n => new Tag { Label = n }));
                await catalog.SaveChangesAsync(Token);

                var throughDeflake = await catalog.Tags.Where(t => t.Label != "seed").Select(t => t.Label).ToListAsync(Token);
                await using var plain = new CatalogContext(new DbContextOptionsBuilder<CatalogContext>().UseSqlite(database.ConnectionString).Options);
                var throughConnectionString = await plain.Tags.Where(t => t.Label != "seed").Select(t => t.Label).ToListAsync(Token);

                Assert.Equal(names, throughConnectionString);
                Assert.Equal(names.Order(StringComparer.Ordinal), throughDeflake.Order(StringComparer.Ordinal));
                if (!throughDeflake.SequenceEqual(names))
                {
                    shuffled++;
                }
            }
        }

        Assert.Equal(5, shuffled);
    }
}
