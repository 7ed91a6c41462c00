namespace Deflake.SuiteBench;

/// <summary>The 300 tests: 10 classes (xUnit runs classes in parallel) of 30 cases each.</summary>
public static class SuiteCases
{
    public static TheoryData<int> Create(int first)
    {
        var data = new TheoryData<int>();
        for (var i = first; i < first + 30; i++)
        {
            data.Add(i);
        }

        return data;
    }

    public static Task RunAsync(SuiteDatabase database, int number)
    {
        Assert.InRange(number, 0, 299);
        return database.RunTestAsync(TestContext.Current.CancellationToken);
    }
}

public sealed class Suite01Tests(SuiteDatabase database)
{
    public static TheoryData<int> Cases => SuiteCases.Create(0);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Writes_three_rows_and_reads_a_seeded_one(int number) => SuiteCases.RunAsync(database, number);
}

public sealed class Suite02Tests(SuiteDatabase database)
{
    public static TheoryData<int> Cases => SuiteCases.Create(30);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Writes_three_rows_and_reads_a_seeded_one(int number) => SuiteCases.RunAsync(database, number);
}

public sealed class Suite03Tests(SuiteDatabase database)
{
    public static TheoryData<int> Cases => SuiteCases.Create(60);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Writes_three_rows_and_reads_a_seeded_one(int number) => SuiteCases.RunAsync(database, number);
}

public sealed class Suite04Tests(SuiteDatabase database)
{
    public static TheoryData<int> Cases => SuiteCases.Create(90);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Writes_three_rows_and_reads_a_seeded_one(int number) => SuiteCases.RunAsync(database, number);
}

public sealed class Suite05Tests(SuiteDatabase database)
{
    public static TheoryData<int> Cases => SuiteCases.Create(120);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Writes_three_rows_and_reads_a_seeded_one(int number) => SuiteCases.RunAsync(database, number);
}

public sealed class Suite06Tests(SuiteDatabase database)
{
    public static TheoryData<int> Cases => SuiteCases.Create(150);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Writes_three_rows_and_reads_a_seeded_one(int number) => SuiteCases.RunAsync(database, number);
}

public sealed class Suite07Tests(SuiteDatabase database)
{
    public static TheoryData<int> Cases => SuiteCases.Create(180);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Writes_three_rows_and_reads_a_seeded_one(int number) => SuiteCases.RunAsync(database, number);
}

public sealed class Suite08Tests(SuiteDatabase database)
{
    public static TheoryData<int> Cases => SuiteCases.Create(210);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Writes_three_rows_and_reads_a_seeded_one(int number) => SuiteCases.RunAsync(database, number);
}

public sealed class Suite09Tests(SuiteDatabase database)
{
    public static TheoryData<int> Cases => SuiteCases.Create(240);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Writes_three_rows_and_reads_a_seeded_one(int number) => SuiteCases.RunAsync(database, number);
}

public sealed class Suite10Tests(SuiteDatabase database)
{
    public static TheoryData<int> Cases => SuiteCases.Create(270);

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Writes_three_rows_and_reads_a_seeded_one(int number) => SuiteCases.RunAsync(database, number);
}
