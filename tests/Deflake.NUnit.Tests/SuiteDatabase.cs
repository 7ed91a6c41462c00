using Deflake.Frameworks;
using Deflake.NUnit;

[assembly: DeflakeOrder]
[assembly: DeflakeDatabase(typeof(Deflake.NUnit.Tests.SuiteDatabase))]
[assembly: LevelOfParallelism(8)]

namespace Deflake.NUnit.Tests;

/// <summary>The assembly's pool: every test gets its own SQLite clone in TestDatabase.Current, no base class.</summary>
public sealed class SuiteDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => SuiteSupport.Engine();

    protected override TestDatabaseOptions CreateOptions() => SuiteSupport.Options();
}
