using Deflake.Frameworks;

namespace Deflake.NUnit.Tests;

/// <summary>
/// Seed 002 on NUnit: 8 tests × 20 repetitions run in parallel (eight workers), each inserting its own rows into
/// TestDatabase.Current: the count is exact and no test sees another's rows.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class Seed002Tests
{
    private static IEnumerable<TestCaseData> Cases()
        => from test in Enumerable.Range(1, 8) from repetition in Enumerable.Range(1, 20) select new TestCaseData(test, repetition);

    [TestCaseSource(nameof(Cases))]
    public async Task Its_own_rows_and_only_its_own(int test, int repetition)
    {
        var owner = $"test{test}-{repetition}";

        var count = await SuiteSupport.InsertAndCountAsync(owner, test);

        Assert.That(count, Is.EqualTo(1 + test));
        Assert.That(await SuiteSupport.OwnersAsync(), Is.EqualTo(new[] { owner }));
    }
}
