using Deflake.Frameworks;
using Microsoft.Extensions.Configuration;

namespace Deflake.MSTest.Tests;

/// <summary>
/// Seed 002 on MSTest: 8 tests × 20 repetitions run in parallel (method level, eight workers), each inserting its own
/// rows into TestDatabase.Current: the count is exact and no test sees another's rows.
/// </summary>
[DeflakeTestClass(typeof(SuiteDatabase))]
public sealed class Seed002Tests
{
    public static IEnumerable<object[]> Cases()
        => from test in Enumerable.Range(1, 8) from repetition in Enumerable.Range(1, 20) select new object[] { test, repetition };

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public async Task Its_own_rows_and_only_its_own(int test, int repetition)
    {
        var owner = $"test{test}-{repetition}";

        var count = await SuiteSupport.InsertAndCountAsync(owner, test, TestContext.CancellationToken);

        Assert.AreEqual(1 + test, count);
        CollectionAssert.AreEqual(new[] { owner }, await SuiteSupport.OwnersAsync(TestContext.CancellationToken));
    }
}

/// <summary>TestDatabase.Current reaches [TestInitialize], and app code that reads its connection string from IConfiguration.</summary>
[DeflakeTestClass(typeof(SuiteDatabase))]
public sealed class CurrentTests
{
    private string? _initialized;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void Initialize() => _initialized = TestDatabase.Current.Name;

    [TestMethod]
    public void TestInitialize_sees_the_tests_own_database() => Assert.AreEqual(_initialized, TestDatabase.Current.Name);

    [TestMethod]
    public async Task App_code_gets_the_database_through_IConfiguration_in_one_line()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(TestDatabase.Current.AsConfiguration("ConnectionStrings:Shop")).Build();

        // The app opens its own connection from configuration and sees the test's database (its rows, nobody else's).
        await SuiteSupport.InsertAndCountAsync("current-config", 2, TestContext.CancellationToken);
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(configuration.GetConnectionString("Shop"));
        await connection.OpenAsync(TestContext.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM items WHERE owner = 'current-config'";
        Assert.AreEqual(2L, (long)(await command.ExecuteScalarAsync(TestContext.CancellationToken))!);
    }
}
