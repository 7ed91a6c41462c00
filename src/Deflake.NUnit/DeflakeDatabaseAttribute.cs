using NUnit.Framework;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace Deflake.NUnit;

/// <summary>
/// Gives every test of a method, fixture or (on the assembly) the whole assembly its own database in
/// <see cref="TestDatabase.Current"/>, without a base class: <c>[assembly: DeflakeDatabase(typeof(MyDatabase))]</c>.
/// An NUnit action: on the assembly or a fixture it runs around <c>[SetUp]</c> and <c>[TearDown]</c> (which then see the
/// database), on a method inside them. The database is rented through <see cref="DeflakeFixture.RentAsync"/>, so the
/// per-test chaos of <c>deflake hunt</c> applies; after the test it is dropped, or kept when the test failed and
/// <c>DEFLAKE_KEEP_FAILED=1</c>, and the test's output says where.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class DeflakeDatabaseAttribute : Attribute, ITestAction
{
    private const string Key = "Deflake.TestDatabase";

    /// <summary>Uses the pool of <paramref name="fixtureType"/>, a <see cref="DeflakeFixture"/> with a parameterless constructor.</summary>
    public DeflakeDatabaseAttribute(Type fixtureType)
    {
        ArgumentNullException.ThrowIfNull(fixtureType);
        FixtureType = fixtureType;
    }

    /// <summary>The fixture type.</summary>
    public Type FixtureType { get; }

    /// <summary>Every test (not suites).</summary>
    public ActionTargets Targets => ActionTargets.Test;

    /// <summary>Rents the test's database (NUnit calls this synchronously, on the test's thread).</summary>
    public void BeforeTest(ITest test)
    {
        ArgumentNullException.ThrowIfNull(test);
        TestDatabase.AddCurrentSource(FromTestContext);
        var fixture = Testing.SharedTestPools.Fixture<DeflakeFixture>(FixtureType, "[DeflakeDatabase]");
        var database = fixture.RentAsync(TestContext.CurrentContext.CancellationToken).AsTask().GetAwaiter().GetResult();
        test.Properties.Set(Key, database);
        TestDatabase.SetCurrent(database);
    }

    /// <summary>Drops the test's database, or keeps it when the test failed and keeping is on.</summary>
    public void AfterTest(ITest test)
    {
        ArgumentNullException.ThrowIfNull(test);
        if (test.Properties.Get(Key) is not TestDatabase database)
        {
            return;
        }

        test.Properties[Key].Clear();
        TestDatabase.SetCurrent(null);
        if (TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Failed)
        {
            database.MarkFailed();
        }

        database.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (database.KeptAt is { } where)
        {
            var line = $"Deflake kept this test's {database.EngineKind} database {database.Name}: {where} (seed {database.Seed})";
            TestContext.Out.WriteLine(line);
            TestContext.Error.WriteLine(line);
        }
    }

    private static TestDatabase? FromTestContext()
        => TestExecutionContext.CurrentContext?.CurrentTest?.Properties.Get(Key) as TestDatabase;
}
