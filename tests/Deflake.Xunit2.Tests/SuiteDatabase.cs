using Deflake.Frameworks;
using Deflake.Xunit2;

[assembly: DeflakeOrder]
[assembly: DeflakeDatabase(typeof(Deflake.Xunit2.Tests.SuiteDatabase))]
// Eight classes run at once (seed 002), on any number of cores.
[assembly: CollectionBehavior(MaxParallelThreads = 8)]

namespace Deflake.Xunit2.Tests;

/// <summary>The assembly's pool: every test gets its own SQLite clone in TestDatabase.Current, no base class.</summary>
public sealed class SuiteDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => SuiteSupport.Engine();

    protected override TestDatabaseOptions CreateOptions() => SuiteSupport.Options();
}
