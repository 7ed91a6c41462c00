using Deflake.Frameworks;
using Deflake.MSTest;

[assembly: DeflakeOrder]
[assembly: Parallelize(Workers = 8, Scope = ExecutionScope.MethodLevel)]

namespace Deflake.MSTest.Tests;

/// <summary>The assembly's pool: every test of a [DeflakeTestClass] gets its own SQLite clone in TestDatabase.Current.</summary>
public sealed class SuiteDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => SuiteSupport.Engine();

    protected override TestDatabaseOptions CreateOptions() => SuiteSupport.Options();
}
