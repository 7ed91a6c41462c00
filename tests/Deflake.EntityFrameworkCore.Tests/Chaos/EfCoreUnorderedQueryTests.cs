using Deflake.EntityFrameworkCore.Tests.Contexts;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Deflake.EntityFrameworkCore.Tests.Chaos;

/// <summary>
/// What docs/efcore.md recommends besides rows chaos: EF Core only warns when a query limits rows without an order, and
/// a test context can make that warning an error, so the query fails where it is written, on every run.
/// </summary>
public sealed class EfCoreUnorderedQueryTests : IDisposable
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private readonly SqlitePools _pools = new();

    public void Dispose() => _pools.Dispose();

    /// <summary>The context of docs/efcore.md: EF Core's two "no ORDER BY" warnings thrown as errors.</summary>
    private static ShopContext Strict(System.Data.Common.DbConnection connection) => new(new DbContextOptionsBuilder<ShopContext>()
        .UseSqlite(connection)
        .ConfigureWarnings(w => w.Throw(CoreEventId.RowLimitingOperationWithoutOrderByWarning, CoreEventId.FirstWithoutOrderByAndFilterWarning))
        .Options);

    [Fact]
    public async Task A_page_or_a_first_row_without_an_order_fails_where_it_is_written_and_with_an_order_it_runs()
    {
        var (pool, _) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(ShopContext.Create));
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            await using var shop = await database.CreateDbContextAsync(Strict, Token);

            var page = await Assert.ThrowsAsync<InvalidOperationException>(() => shop.Products.Skip(1).Take(1).ToListAsync(Token));
            Assert.Contains("OrderBy", page.Message, StringComparison.Ordinal);
            var first = await Assert.ThrowsAsync<InvalidOperationException>(() => shop.Products.FirstOrDefaultAsync(Token));
            Assert.Contains("OrderBy", first.Message, StringComparison.Ordinal);

            // Ordered, the same queries run (the migrations' seed data has products).
            Assert.Single(await shop.Products.OrderBy(p => p.Id).Skip(1).Take(1).ToListAsync(Token));
            Assert.NotNull(await shop.Products.OrderBy(p => p.Id).FirstOrDefaultAsync(Token));
        }
    }

    [Fact]
    public async Task Without_the_setting_the_same_unordered_page_runs_and_only_logs()
    {
        var (pool, _) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(ShopContext.Create));
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            await using var shop = await database.CreateDbContextAsync(ShopContext.Create, Token);

            Assert.Single(await shop.Products.Skip(1).Take(1).ToListAsync(Token));
        }
    }
}
