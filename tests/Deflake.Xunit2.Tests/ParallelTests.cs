using Deflake.Frameworks;

namespace Deflake.Xunit2.Tests;

/// <summary>
/// Seed 002 on xUnit v2: eight test classes run in parallel (one collection each), each test 20 times (theory rows),
/// each inserting its own rows into TestDatabase.Current: the count is exact and no test sees another's rows.
/// </summary>
public abstract class Seed002Tests(int rows)
{
    public static TheoryData<int> Repetitions { get; } = [.. Enumerable.Range(1, 20)];

    [Theory]
    [MemberData(nameof(Repetitions))]
    public async Task Its_own_rows_and_only_its_own(int repetition)
    {
        var owner = $"{GetType().Name}-{repetition}";

        var count = await SuiteSupport.InsertAndCountAsync(owner, rows);

        Assert.Equal(1 + rows, count);
        Assert.Equal([owner], await SuiteSupport.OwnersAsync());
    }
}

public sealed class Seed002Test1() : Seed002Tests(1);

public sealed class Seed002Test2() : Seed002Tests(2);

public sealed class Seed002Test3() : Seed002Tests(3);

public sealed class Seed002Test4() : Seed002Tests(4);

public sealed class Seed002Test5() : Seed002Tests(5);

public sealed class Seed002Test6() : Seed002Tests(6);

public sealed class Seed002Test7() : Seed002Tests(7);

public sealed class Seed002Test8() : Seed002Tests(8);
