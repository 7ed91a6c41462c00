using System.Collections.Concurrent;
using System.Reflection;
using Xunit;
using Xunit.v3;

namespace Deflake.Xunit;

/// <summary>
/// Gives every test of a method, class or (on the assembly) the whole assembly its own database in
/// <see cref="TestDatabase.Current"/>, without a base class: <c>[DeflakeDatabase]</c>. The database comes from the
/// assembly's <see cref="DeflakeFixture"/> (registered with <c>[assembly: AssemblyFixture(…)]</c>; name it with
/// <see cref="FixtureType"/> when the assembly has several) through <see cref="DeflakeFixture.RentAsync"/>, so the
/// per-test chaos of <c>deflake hunt</c> applies.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class DeflakeDatabaseAttribute : BeforeAfterTestAttribute
{
    private static readonly ConcurrentDictionary<string, TestDatabase> ByTest = new(StringComparer.Ordinal);

    /// <summary>Uses the assembly's one <see cref="DeflakeFixture"/>.</summary>
    public DeflakeDatabaseAttribute()
    {
    }

    /// <summary>Uses the fixture of type <paramref name="fixtureType"/>.</summary>
    public DeflakeDatabaseAttribute(Type fixtureType)
    {
        FixtureType = fixtureType;
    }

    /// <summary>The fixture type; null: the one <see cref="DeflakeFixture"/> the assembly registers.</summary>
    public Type? FixtureType { get; }

    /// <summary>Makes <paramref name="database"/> the <see cref="TestDatabase.Current"/> database of the running test (used by <see cref="DatabaseTest{TFixture}"/>).</summary>
    internal static void SetCurrent(TestDatabase? database)
    {
        TestDatabase.AddCurrentSource(FromTestContext);
        if (TestContext.Current.Test?.UniqueID is not { } id)
        {
            return;
        }

        if (database is null)
        {
            ByTest.TryRemove(id, out _);
        }
        else
        {
            ByTest[id] = database;
        }
    }

    private static TestDatabase? FromTestContext()
        => TestContext.Current.Test?.UniqueID is { } id && ByTest.TryGetValue(id, out var database) ? database : null;

    /// <summary>Rents the test's database (xUnit calls this synchronously; the rent waits for a clone when none is ready).</summary>
    public override void Before(MethodInfo methodUnderTest, IXunitTest test)
    {
        var fixture = FindFixtureAsync().AsTask().GetAwaiter().GetResult();
        SetCurrent(fixture.RentAsync(TestContext.Current.CancellationToken).AsTask().GetAwaiter().GetResult());
    }

    /// <summary>Drops the test's database, or keeps it when the test failed and keeping is on.</summary>
    public override void After(MethodInfo methodUnderTest, IXunitTest test)
    {
        if (FromTestContext() is not { } database)
        {
            return;
        }

        SetCurrent(null);
        DatabaseTest<DeflakeFixture>.ReleaseAsync(database).AsTask().GetAwaiter().GetResult();
    }

    private async ValueTask<DeflakeFixture> FindFixtureAsync()
    {
        var type = FixtureType ?? FindFixtureType();
        return await TestContext.Current.GetFixture(type).ConfigureAwait(false) as DeflakeFixture
            ?? throw new InvalidOperationException($"[DeflakeDatabase] needs the fixture {type.Name}: register it with [assembly: AssemblyFixture(typeof({type.Name}))].");
    }

    private static Type FindFixtureType()
    {
        var assembly = TestContext.Current.TestAssembly is IXunitTestAssembly xunitAssembly ? xunitAssembly.Assembly : null;
        var types = assembly?.GetCustomAttributes<AssemblyFixtureAttribute>()
            .Select(a => a.AssemblyFixtureType)
            .Where(t => typeof(DeflakeFixture).IsAssignableFrom(t))
            .ToArray() ?? [];
        return types.Length == 1
            ? types[0]
            : throw new InvalidOperationException(types.Length == 0
                ? "[DeflakeDatabase] found no DeflakeFixture: register yours with [assembly: AssemblyFixture(typeof(MyDatabase))]."
                : $"[DeflakeDatabase] found {types.Length} DeflakeFixtures ({string.Join(", ", types.Select(t => t.Name))}); name one: [DeflakeDatabase(typeof({types[0].Name}))].");
    }
}
