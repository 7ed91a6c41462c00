using Deflake;
using Deflake.Sqlite;
using Deflake.Xunit;
using Deflake.Xunit.Ordering;

// One pool for the assembly; DEFLAKE_ORDER decides the test order.
[assembly: AssemblyFixture(typeof(PlantedSuite.PlantedDatabase))]
[assembly: DeflakeOrder]

namespace PlantedSuite;

/// <summary>The shop's migrations applied once; every <see cref="DatabaseTest{TFixture}"/> gets its own clone.</summary>
public sealed class PlantedDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => new SqliteEngine();

    protected override TestDatabaseOptions CreateOptions() => new()
    {
        Schema = SchemaSource.FromSqlDirectory(Path.Combine(AppContext.BaseDirectory, "migrations")),
    };
}

/// <summary>State the whole test process shares, as a static cache or a shared service would be.</summary>
internal static class ProcessState
{
    public static bool CatalogWarmed { get; set; }

    public static int LedgerEntries { get; set; }
}
