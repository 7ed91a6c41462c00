using Deflake;
using Deflake.Sqlite;
using Deflake.Xunit;

[assembly: AssemblyFixture(typeof(Shop.Tests.ShopDatabase))]

namespace Shop.Tests;

/// <summary>One pool for the assembly: the shop's migrations are applied once, every test gets a clone.</summary>
public sealed class ShopDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => new SqliteEngine();

    protected override TestDatabaseOptions CreateOptions() => new()
    {
        Schema = SchemaSource.FromSqlDirectory(Path.Combine(AppContext.BaseDirectory, "migrations")),
    };
}
