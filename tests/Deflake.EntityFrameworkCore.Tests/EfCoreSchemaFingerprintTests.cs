using System.Data;
using System.Data.Common;
using Deflake.EntityFrameworkCore.Tests.Contexts;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Deflake.EntityFrameworkCore.Tests;

/// <summary>The fingerprint is the SQL EF Core would run, rendered without a database (no server needed, either provider).</summary>
public sealed class EfCoreSchemaFingerprintTests
{
    private static readonly SchemaContext Sqlite = new("sqlite", SqliteFactory.Instance);
    private static readonly SchemaContext Postgres = new("postgres", NpgsqlFactory.Instance);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static ValueTask<string> DigestAsync<T>(Func<DbConnection, T> create, SchemaContext? context = null)
        where T : DbContext
        => EfCoreSchema.FromDbContext(create).ComputeFingerprintAsync(context ?? Sqlite, Token);

    [Fact]
    public async Task Two_sources_of_the_same_context_have_the_same_fingerprint()
    {
        var first = await DigestAsync(ShopContext.Create);
        var second = await DigestAsync(ShopContext.Create);

        Assert.Equal(first, second);
        Assert.Matches("^[0-9a-f]{64}$", first);
    }

    [Fact]
    public void The_variants_have_the_same_migration_ids_as_the_shop()
    {
        // What makes the next test meaningful: a digest of migration ids alone would not tell these apart.
        static List<string> Ids(DbContext context) => [.. context.Database.GetMigrations()];
        using var connection = new SqliteConnection();
        using var shop = ShopContext.Create(connection);
        using var wider = WiderOrdersContext.Create(connection);
        using var otherSeed = OtherSeedContext.Create(connection);

        Assert.Equal([ShopMigrations.CreateProductsId, ShopMigrations.AddOrdersId], Ids(shop));
        Assert.Equal(Ids(shop), Ids(wider));
        Assert.Equal(Ids(shop), Ids(otherSeed));
    }

    [Fact]
    public async Task A_column_added_to_a_migration_under_the_same_id_changes_the_fingerprint()
    {
        Assert.NotEqual(await DigestAsync(ShopContext.Create), await DigestAsync(WiderOrdersContext.Create));
    }

    [Fact]
    public async Task Other_migrationBuilder_Sql_text_under_the_same_id_changes_the_fingerprint()
    {
        Assert.NotEqual(await DigestAsync(ShopContext.Create), await DigestAsync(OtherSeedContext.Create));
    }

    [Fact]
    public async Task The_same_migrations_rendered_for_PostgreSQL_have_another_fingerprint_than_for_SQLite()
    {
        var sqlite = await DigestAsync(ShopContext.Create, Sqlite);
        var postgres = await DigestAsync(ShopContext.Create, Postgres);

        Assert.NotEqual(sqlite, postgres);
        Assert.Equal(postgres, await DigestAsync(ShopContext.Create, Postgres));
    }

    [Fact]
    public async Task Without_migrations_the_fingerprint_follows_the_model()
    {
        var catalog = await DigestAsync(CatalogContext.Create);

        Assert.Equal(catalog, await DigestAsync(CatalogContext.Create));
        Assert.NotEqual(catalog, await DigestAsync(CatalogWithSlugContext.Create));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Rendering_the_fingerprint_never_opens_the_connection_it_is_given(string engine)
    {
        var connections = new List<DbConnection>();
        var changes = new List<ConnectionState>();

        T Watch<T>(DbConnection connection, Func<DbConnection, T> create)
        {
            connections.Add(connection);
            connection.StateChange += (_, e) => changes.Add(e.CurrentState);
            return create(connection);
        }

        var context = engine == "sqlite" ? Sqlite : Postgres;
        await EfCoreSchema.FromDbContext(c => Watch(c, ShopContext.Create)).ComputeFingerprintAsync(context, Token);
        if (engine == "sqlite")
        {
            // The create script of a context without migrations (EnsureCreated's SQL); Npgsql renders it the same way.
            await EfCoreSchema.FromDbContext(c => Watch(c, CatalogContext.Create)).ComputeFingerprintAsync(context, Token);
        }

        Assert.NotEmpty(connections);
        Assert.All(connections, c => Assert.Equal(ConnectionState.Closed, c.State));
        Assert.All(connections, c => Assert.Equal(context.ProviderFactory!.CreateConnection()!.GetType(), c.GetType()));
        Assert.Empty(changes);
    }

    [Fact]
    public void The_name_is_the_context_type_and_the_lineage_its_full_name_and_assembly()
    {
        var schema = EfCoreSchema.FromDbContext(ShopContext.Create);

        Assert.Equal("efcore:ShopContext", schema.Name);
        Assert.Equal("efcore:Deflake.EntityFrameworkCore.Tests.Contexts.ShopContext, Deflake.EntityFrameworkCore.Tests", schema.LineageKey);
    }
}
