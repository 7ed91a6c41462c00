using System.Data.Common;
using Deflake.EntityFrameworkCore.Tests.Contexts;
using Microsoft.EntityFrameworkCore;

namespace Deflake.EntityFrameworkCore.Tests;

/// <summary>EfCoreSchema against real SQLite: migrations in the template, clones that have them, template reuse.</summary>
public sealed class EfCoreSchemaSqliteTests : IDisposable
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private readonly SqlitePools _pools = new();

    public void Dispose() => _pools.Dispose();

    [Fact]
    public async Task A_clone_has_the_migrated_tables_the_seed_data_of_both_migrations_and_both_history_rows()
    {
        var (pool, _) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(ShopContext.Create));
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            await using var shop = await database.CreateDbContextAsync(ShopContext.Create, Token);

            var products = await shop.Products.OrderBy(p => p.Id).Select(p => p.Name).ToListAsync(Token);
            var order = Assert.Single(await shop.Orders.ToListAsync(Token));
            var history = await shop.Database.SqlQueryRaw<string>("""SELECT "MigrationId" AS "Value" FROM "__EFMigrationsHistory" ORDER BY 1""").ToListAsync(Token);

            Assert.Equal(["Kettle", "Mug"], products);
            Assert.Equal(1, order.Quantity);
            Assert.Equal(await shop.Products.Where(p => p.Name == "Kettle").Select(p => p.Id).SingleAsync(Token), order.ProductId);
            Assert.Equal([ShopMigrations.CreateProductsId, ShopMigrations.AddOrdersId], history);
            Assert.Empty(await shop.Database.GetPendingMigrationsAsync(Token));
        }
    }

    [Fact]
    public async Task Each_test_gets_its_own_clone_so_writes_in_one_are_not_seen_in_another()
    {
        var (pool, _) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(ShopContext.Create));
        await using (pool)
        {
            await using (var first = await pool.RentAsync(Token))
            {
                await using var shop = await first.CreateDbContextAsync(ShopContext.Create, Token);
                shop.Products.Add(new Product { Name = "Teapot" });
                await shop.SaveChangesAsync(Token);
                Assert.Equal(3, await shop.Products.CountAsync(Token));
            }

            await using var second = await pool.RentAsync(Token);
            await using var again = await second.CreateDbContextAsync(ShopContext.Create, Token);
            Assert.Equal(2, await again.Products.CountAsync(Token));
        }
    }

    [Fact]
    public async Task The_template_is_built_once_and_a_second_pool_reuses_it()
    {
        string name;
        var (first, _) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(ShopContext.Create));
        await using (first)
        {
            Assert.True(first.Template.WasBuilt);
            name = first.Template.Name;
        }

        var (second, _) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(ShopContext.Create));
        await using (second)
        {
            Assert.False(second.Template.WasBuilt);
            Assert.Equal(name, second.Template.Name);
        }
    }

    [Fact]
    public async Task A_migration_edited_under_the_same_id_gets_a_template_of_its_own_with_the_edit_in_it()
    {
        var (baseline, _) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(ShopContext.Create));
        await using (baseline)
        {
            var (edited, _) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(OtherSeedContext.Create));
            await using (edited)
            {
                Assert.True(edited.Template.WasBuilt);
                Assert.NotEqual(baseline.Template.Name, edited.Template.Name);
                await using var database = await edited.RentAsync(Token);
                await using var shop = await database.CreateDbContextAsync(OtherSeedContext.Create, Token);
                Assert.Equal(2, (await shop.Orders.SingleAsync(Token)).Quantity);
            }
        }
    }

    [Fact]
    public async Task A_context_without_migrations_is_created_from_its_model_with_its_seed_data_and_no_history_table()
    {
        var (pool, _) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(CatalogContext.Create));
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            await using var catalog = await database.CreateDbContextAsync(CatalogContext.Create, Token);

            Assert.Equal("seed", (await catalog.Tags.SingleAsync(Token)).Label);
            var connection = catalog.Database.GetDbConnection();
            Assert.Equal(0L, await ScalarAsync(connection, "SELECT COUNT(*) FROM sqlite_master WHERE name = '__EFMigrationsHistory'"));
            Assert.Equal(1L, await ScalarAsync(connection, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'Tags'"));
        }
    }

    [Fact]
    public async Task A_failing_migration_is_a_TemplateBuildException_naming_the_migration_and_the_database_error()
    {
        var error = await Assert.ThrowsAsync<TemplateBuildException>(() => _pools.CreateAsync(EfCoreSchema.FromDbContext(BrokenShopContext.Create)));

        Assert.Equal($"migration '{ShopMigrations.AddOrdersId}' of BrokenShopContext", error.Step);
        Assert.Contains("no such table: NoSuchTable", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<DbException>(error.InnerException);
        // Where in the migration's SQL: the seed statement, at the table SQLite could not find.
        Assert.Equal("INSERT INTO \"NoSuchTable\" (\"X\") VALUES (1)", error.Sql?.Trim().TrimEnd(';'));
        Assert.Equal(1, error.Line);
        Assert.Equal(13, error.Column);
        Assert.Contains("failed at line 1, column 13 of its SQL (INSERT INTO \"NoSuchTable\"", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task EF_Cores_refusal_to_migrate_a_model_with_pending_changes_is_a_TemplateBuildException_naming_the_context()
    {
        var error = await Assert.ThrowsAsync<TemplateBuildException>(() => _pools.CreateAsync(EfCoreSchema.FromDbContext(PendingChangesContext.Create)));

        Assert.Equal("migrating PendingChangesContext", error.Step);
        Assert.Contains("pending changes", error.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(error.InnerException);
        Assert.DoesNotContain('\n', error.Message);
    }

    private static async Task<long> ScalarAsync(DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(Token), System.Globalization.CultureInfo.InvariantCulture);
    }
}
