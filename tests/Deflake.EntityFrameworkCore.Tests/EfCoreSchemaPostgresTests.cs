using Deflake.EntityFrameworkCore.Tests.Contexts;
using Deflake.Postgres;
using Deflake.Postgres.Tests;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Deflake.EntityFrameworkCore.Tests;

/// <summary>EfCoreSchema against a real PostgreSQL server (DEFLAKE_POSTGRES, or the throwaway local server).</summary>
[Deflake.Testing.RequiresPostgres]
public sealed class EfCoreSchemaPostgresTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static Task<TestDatabasePool> CreatePoolAsync(ChaosModes chaos = ChaosModes.None) => PostgresTestServer.CreatePoolAsync(new TestDatabaseOptions
    {
        Schema = EfCoreSchema.FromDbContext(ShopContext.Create),
        Chaos = chaos,
        Seed = 11,
        PoolSize = 1,
    }, Token);

    [Fact]
    public async Task The_PostgreSQL_engine_gives_Npgsql_as_its_provider()
    {
        await using var engine = new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = "Host=localhost" });
        Assert.Same(NpgsqlFactory.Instance, engine.ProviderFactory);
    }

    [Fact]
    public async Task A_clone_has_the_migrated_tables_the_seed_data_and_both_history_rows_and_EF_can_insert()
    {
        await using var pool = await CreatePoolAsync();
        await using var database = await pool.RentAsync(Token);
        await using var shop = await database.CreateDbContextAsync(ShopContext.Create, Token);

        Assert.IsType<NpgsqlConnection>(shop.Database.GetDbConnection());
        Assert.Equal(["Kettle", "Mug"], await shop.Products.OrderBy(p => p.Id).Select(p => p.Name).ToListAsync(Token));
        Assert.Equal(1, (await shop.Orders.SingleAsync(Token)).Quantity);
        Assert.Equal([ShopMigrations.CreateProductsId, ShopMigrations.AddOrdersId],
            await shop.Database.SqlQueryRaw<string>("""SELECT "MigrationId" AS "Value" FROM "__EFMigrationsHistory" ORDER BY 1""").ToListAsync(Token));

        shop.Products.Add(new Product { Name = "Teapot" });
        await shop.SaveChangesAsync(Token);
        Assert.Equal(3, await shop.Products.CountAsync(Token));
    }

    [Fact]
    public async Task A_failing_migration_says_the_line_and_column_of_its_SQL_and_no_password()
    {
        var error = await Assert.ThrowsAsync<TemplateBuildException>(() => PostgresTestServer.CreatePoolAsync(new TestDatabaseOptions
        {
            Schema = EfCoreSchema.FromDbContext(BrokenShopContext.Create),
            PoolSize = 1,
        }, Token));

        Assert.Equal($"migration '{ShopMigrations.AddOrdersId}' of BrokenShopContext", error.Step);
        Assert.Contains("relation \"NoSuchTable\" does not exist", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, error.Line);
        Assert.Equal(13, error.Column);
        Assert.Contains("failed at line 1, column 13 of its SQL (INSERT INTO \"NoSuchTable\"", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain("password", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_second_pool_reuses_the_template()
    {
        string name;
        await using (var first = await CreatePoolAsync())
        {
            name = first.Template.Name;
        }

        await using var second = await CreatePoolAsync();
        Assert.False(second.Template.WasBuilt);
        Assert.Equal(name, second.Template.Name);
        Assert.StartsWith("deflake_tpl_", name, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Under_identities_EF_Core_gets_an_id_in_the_table_range_not_the_next_after_the_seed_data()
    {
        await using var pool = await CreatePoolAsync(ChaosModes.Identities);
        await using var database = await pool.RentAsync(Token);
        await using var shop = await database.CreateDbContextAsync(ShopContext.Create, Token);
        var product = new Product { Name = "Teapot" };
        shop.Products.Add(product);
        await shop.SaveChangesAsync(Token);
        var order = new Order { ProductId = product.Id, Quantity = 1 };
        shop.Orders.Add(order);
        await shop.SaveChangesAsync(Token);

        Assert.True(product.Id >= 1_000_000, $"product id {product.Id}");
        Assert.True(order.Id >= 1_000_000, $"order id {order.Id}");
        Assert.NotEqual(product.Id / 1_000_000, order.Id / 1_000_000);
    }
}
