using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

namespace Deflake.EntityFrameworkCore.Tests.Contexts;

public sealed class Product
{
    public int Id { get; set; }

    public string Name { get; set; } = "";
}

public sealed class Order
{
    public int Id { get; set; }

    public int ProductId { get; set; }

    public int Quantity { get; set; }
}

/// <summary>
/// A shop whose schema is two hand-written migrations. Several context types share these migrations' code with one
/// difference each, under the same migration ids: what a branch switch or an edited migration looks like.
/// </summary>
/// <remarks>
/// The migrations are written by hand, without the ModelSnapshot that <c>dotnet ef migrations add</c> generates. EF Core
/// 9+ refuses to migrate when the model differs from the snapshot (PendingModelChangesWarning as an error), but with no
/// snapshot at all it has nothing to compare and migrates (these tests show it), so no warning needs silencing here.
/// <see cref="PendingChangesContext"/> has an empty snapshot to show the refusal.
/// </remarks>
public abstract class ShopContextBase(DbContextOptions options) : DbContext(options)
{
    public DbSet<Product> Products => Set<Product>();

    public DbSet<Order> Orders => Set<Order>();

    /// <summary>Builds a context of type <typeparamref name="T"/> on <paramref name="connection"/>: SQLite or PostgreSQL by the connection's type.</summary>
    public static T Create<T>(DbConnection connection, Func<DbContextOptions<T>, T> make)
        where T : DbContext
    {
        var builder = new DbContextOptionsBuilder<T>();
        if (connection is NpgsqlConnection)
        {
            builder.UseNpgsql(connection);
        }
        else
        {
            builder.UseSqlite(connection);
        }

        return make(builder.Options);
    }
}

public sealed class ShopContext(DbContextOptions<ShopContext> options) : ShopContextBase(options)
{
    public static ShopContext Create(DbConnection connection) => Create<ShopContext>(connection, o => new ShopContext(o));
}

/// <summary>Same migration ids as <see cref="ShopContext"/>; the second migration gives Orders one more column.</summary>
public sealed class WiderOrdersContext(DbContextOptions<WiderOrdersContext> options) : ShopContextBase(options)
{
    public static WiderOrdersContext Create(DbConnection connection) => Create<WiderOrdersContext>(connection, o => new WiderOrdersContext(o));
}

/// <summary>Same migration ids and tables as <see cref="ShopContext"/>; only the seed SQL of the second migration differs.</summary>
public sealed class OtherSeedContext(DbContextOptions<OtherSeedContext> options) : ShopContextBase(options)
{
    public static OtherSeedContext Create(DbConnection connection) => Create<OtherSeedContext>(connection, o => new OtherSeedContext(o));
}

/// <summary>The second migration's SQL names a table that does not exist.</summary>
public sealed class BrokenShopContext(DbContextOptions<BrokenShopContext> options) : ShopContextBase(options)
{
    public static BrokenShopContext Create(DbConnection connection) => Create<BrokenShopContext>(connection, o => new BrokenShopContext(o));
}

/// <summary>
/// A snapshot that says the model is empty while the model has two tables: what a forgotten <c>migrations add</c> looks
/// like to EF Core, which then refuses to migrate.
/// </summary>
public sealed class PendingChangesContext(DbContextOptions<PendingChangesContext> options) : ShopContextBase(options)
{
    public static PendingChangesContext Create(DbConnection connection) => Create<PendingChangesContext>(connection, o => new PendingChangesContext(o));
}

[DbContext(typeof(PendingChangesContext))]
public sealed class PendingChangesSnapshot : ModelSnapshot
{
    protected override void BuildModel(ModelBuilder modelBuilder)
    {
    }
}

[DbContext(typeof(PendingChangesContext))]
[Migration(ShopMigrations.CreateProductsId)]
public sealed class PendingChangesCreateProducts : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => ShopMigrations.CreateProducts(migrationBuilder);
}

/// <summary>The migrations' code, shared by the shop contexts.</summary>
public static class ShopMigrations
{
    public const string CreateProductsId = "20260101000000_CreateProducts";
    public const string AddOrdersId = "20260102000000_AddOrders";

    public const string SeedOrderSql = """INSERT INTO "Orders" ("ProductId", "Quantity") SELECT "Id", 1 FROM "Products" WHERE "Name" = 'Kettle'""";

    public static void CreateProducts(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.CreateTable(
            name: "Products",
            columns: table => new
            {
                Id = table.Column<int>(nullable: false)
                    .Annotation("Sqlite:Autoincrement", true)
                    .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                Name = table.Column<string>(nullable: false),
            },
            constraints: table => table.PrimaryKey("PK_Products", x => x.Id));
        // Column types spelled out: hand-written migrations have no target model to take them from ("text" suits SQLite and PostgreSQL).
        migrationBuilder.InsertData("Products", ["Name"], ["text"], new object[,] { { "Kettle" }, { "Mug" } });
    }

    public static void AddOrders(MigrationBuilder migrationBuilder, bool withNote = false, string seedSql = SeedOrderSql)
    {
        migrationBuilder.CreateTable(
            name: "Orders",
            columns: table => new
            {
                Id = table.Column<int>(nullable: false)
                    .Annotation("Sqlite:Autoincrement", true)
                    .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                ProductId = table.Column<int>(nullable: false),
                Quantity = table.Column<int>(nullable: false),
            },
            constraints: table =>
            {
                table.PrimaryKey("PK_Orders", x => x.Id);
                table.ForeignKey("FK_Orders_Products_ProductId", x => x.ProductId, "Products", "Id");
            });
        if (withNote)
        {
            migrationBuilder.AddColumn<string>(name: "Note", table: "Orders", nullable: true);
        }

        migrationBuilder.Sql(seedSql);
    }
}

[DbContext(typeof(ShopContext))]
[Migration(ShopMigrations.CreateProductsId)]
public sealed class ShopCreateProducts : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => ShopMigrations.CreateProducts(migrationBuilder);
}

[DbContext(typeof(ShopContext))]
[Migration(ShopMigrations.AddOrdersId)]
public sealed class ShopAddOrders : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => ShopMigrations.AddOrders(migrationBuilder);
}

[DbContext(typeof(WiderOrdersContext))]
[Migration(ShopMigrations.CreateProductsId)]
public sealed class WiderCreateProducts : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => ShopMigrations.CreateProducts(migrationBuilder);
}

[DbContext(typeof(WiderOrdersContext))]
[Migration(ShopMigrations.AddOrdersId)]
public sealed class WiderAddOrders : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => ShopMigrations.AddOrders(migrationBuilder, withNote: true);
}

[DbContext(typeof(OtherSeedContext))]
[Migration(ShopMigrations.CreateProductsId)]
public sealed class OtherSeedCreateProducts : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => ShopMigrations.CreateProducts(migrationBuilder);
}

[DbContext(typeof(OtherSeedContext))]
[Migration(ShopMigrations.AddOrdersId)]
public sealed class OtherSeedAddOrders : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
        => ShopMigrations.AddOrders(migrationBuilder, seedSql: ShopMigrations.SeedOrderSql.Replace("1 FROM", "2 FROM", StringComparison.Ordinal));
}

[DbContext(typeof(BrokenShopContext))]
[Migration(ShopMigrations.CreateProductsId)]
public sealed class BrokenCreateProducts : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => ShopMigrations.CreateProducts(migrationBuilder);
}

[DbContext(typeof(BrokenShopContext))]
[Migration(ShopMigrations.AddOrdersId)]
public sealed class BrokenAddOrders : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
        => ShopMigrations.AddOrders(migrationBuilder, seedSql: """INSERT INTO "NoSuchTable" ("X") VALUES (1)""");
}
