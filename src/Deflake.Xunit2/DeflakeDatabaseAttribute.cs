using System.Reflection;
using Xunit.Sdk;

namespace Deflake.Xunit2;

/// <summary>
/// Gives every test of a method, class or (on the assembly) the whole assembly its own database in
/// <see cref="TestDatabase.Current"/>, without a base class: <c>[assembly: DeflakeDatabase(typeof(MyDatabase))]</c>.
/// It rents through the fixture's pools with the test's id, so the per-test chaos of <c>deflake hunt</c> applies.
/// </summary>
/// <remarks>
/// xUnit v2 tells a before/after attribute neither the test's outcome nor its output: a failed test's database is
/// dropped like any other (call <c>TestDatabase.Current.Keep()</c> in the test to keep it), and Deflake's warnings go to
/// xUnit's diagnostic messages (with <c>[assembly: Deflake.Xunit2.DeflakeOrder]</c>) and to standard error.
/// </remarks>
[AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class DeflakeDatabaseAttribute : BeforeAfterTestAttribute
{
    /// <summary>Uses the pool of <paramref name="fixtureType"/>, a <see cref="DeflakeFixture"/> with a parameterless constructor.</summary>
    public DeflakeDatabaseAttribute(Type fixtureType)
    {
        ArgumentNullException.ThrowIfNull(fixtureType);
        FixtureType = fixtureType;
    }

    /// <summary>The fixture type.</summary>
    public Type FixtureType { get; }

    /// <summary>Rents the test's database (xUnit v2 calls this synchronously, right before the test method).</summary>
    public override void Before(MethodInfo methodUnderTest)
    {
        ArgumentNullException.ThrowIfNull(methodUnderTest);
        var fixture = Testing.SharedTestPools.Fixture<DeflakeFixture>(FixtureType, "[DeflakeDatabase]");
        var testId = Testing.TestPools.TestId(methodUnderTest.ReflectedType ?? methodUnderTest.DeclaringType!, methodUnderTest.Name);
        TestDatabase.SetCurrent(fixture.RentAsync(testId).AsTask().GetAwaiter().GetResult());
    }

    /// <summary>Drops the test's database.</summary>
    public override void After(MethodInfo methodUnderTest)
    {
        if (TestDatabase.CurrentOrNull is { } database)
        {
            TestDatabase.SetCurrent(null);
            database.DisposeAsync().AsTask().GetAwaiter().GetResult();
            if (database.KeptAt is { } where)
            {
                Console.Error.WriteLine($"Deflake kept this test's {database.EngineKind} database {database.Name}: {where} (seed {database.Seed})");
            }
        }
    }
}
