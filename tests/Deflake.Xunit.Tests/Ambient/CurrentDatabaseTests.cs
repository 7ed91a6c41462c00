using Deflake.Frameworks;

namespace Deflake.Xunit.Tests.Ambient;

/// <summary>
/// [DeflakeDatabase] without a base class: four classes run in parallel (xUnit v3 runs classes in parallel), each test
/// five times, each inserting its own rows into TestDatabase.Current: the count is exact and no test sees another's rows.
/// </summary>
[DeflakeDatabase]
public abstract class CurrentDatabaseTests(int rows)
{
    public static TheoryData<int> Repetitions { get; } = [.. Enumerable.Range(1, 5)];

    [Theory]
    [MemberData(nameof(Repetitions))]
    public async Task TestDatabase_Current_is_the_tests_own_database(int repetition)
    {
        var owner = $"{GetType().Name}-{repetition}";

        var count = await SuiteSupport.InsertAndCountAsync(owner, rows, TestContext.Current.CancellationToken);

        Assert.Equal(1 + rows, count);
        Assert.Equal([owner], await SuiteSupport.OwnersAsync(TestContext.Current.CancellationToken));
    }
}

public sealed class CurrentDatabaseTests1() : CurrentDatabaseTests(1);

public sealed class CurrentDatabaseTests2() : CurrentDatabaseTests(2);

public sealed class CurrentDatabaseTests3() : CurrentDatabaseTests(3);

public sealed class CurrentDatabaseTests4() : CurrentDatabaseTests(4);

/// <summary>DatabaseTest&lt;T&gt; stays, and sets TestDatabase.Current too.</summary>
public sealed class BaseClassTests(AmbientDatabase db) : DatabaseTest<AmbientDatabase>(db)
{
    [Fact]
    public void The_base_class_database_is_TestDatabase_Current() => Assert.Same(Database, TestDatabase.Current);
}

/// <summary>Outside a Deflake test, TestDatabase.Current says how to get one.</summary>
public sealed class NoDatabaseTests
{
    [Fact]
    public void Current_without_an_integration_names_the_attributes()
    {
        Assert.Null(TestDatabase.CurrentOrNull);
        var error = Assert.Throws<InvalidOperationException>(() => TestDatabase.Current);
        Assert.Contains("[DeflakeDatabase]", error.Message, StringComparison.Ordinal);
    }
}
