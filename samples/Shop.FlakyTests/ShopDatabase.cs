using Deflake;
using Deflake.Sqlite;
using Deflake.Xunit;
using Deflake.Xunit.Ordering;

// One pool for the assembly; DEFLAKE_ORDER decides the test order (what `deflake hunt` relies on).
[assembly: AssemblyFixture(typeof(Shop.FlakyTests.ShopDatabase))]
[assembly: DeflakeOrder]

namespace Shop.FlakyTests;

/// <summary>The shop's migrations applied once; every test that derives from <see cref="DatabaseTest{TFixture}"/> gets a clone.</summary>
public sealed class ShopDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => new SqliteEngine();

    protected override TestDatabaseOptions CreateOptions() => new()
    {
        Schema = SchemaSource.FromSqlDirectory(Path.Combine(AppContext.BaseDirectory, "migrations")),
    };
}
