using Deflake.Frameworks;

[assembly: AssemblyFixture(typeof(Deflake.Xunit.Tests.Ambient.AmbientDatabase))]

namespace Deflake.Xunit.Tests.Ambient;

/// <summary>The assembly fixture [DeflakeDatabase] finds on its own (the only DeflakeFixture registered).</summary>
public sealed class AmbientDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => SuiteSupport.Engine();

    protected override TestDatabaseOptions CreateOptions() => SuiteSupport.Options();
}
