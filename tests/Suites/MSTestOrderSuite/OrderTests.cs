using Deflake;
using Deflake.Frameworks;
using Deflake.MSTest;
using Deflake.Testing;

[assembly: DeflakeOrder]

namespace MSTestOrderSuite;

public sealed class SuiteDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => SuiteSupport.Engine();

    protected override TestDatabaseOptions CreateOptions() => SuiteSupport.Options();
}

public abstract class Recorded
{
    protected void Record(string method)
    {
        Assert.IsNotNull(TestDatabase.CurrentOrNull);
        SuiteSupport.RecordOrder(TestPools.TestId(GetType(), method));
    }
}

[DeflakeTestClass(typeof(SuiteDatabase))]
public sealed class Alpha : Recorded
{
    [TestMethod]
    public void One() => Record(nameof(One));

    [TestMethod]
    public void Two() => Record(nameof(Two));

    [TestMethod]
    public void Three() => Record(nameof(Three));
}

[DeflakeTestClass(typeof(SuiteDatabase))]
public sealed class Beta : Recorded
{
    [TestMethod]
    public void One() => Record(nameof(One));

    [TestMethod]
    public void Two() => Record(nameof(Two));

    [TestMethod]
    public void Three() => Record(nameof(Three));
}

[DeflakeTestClass(typeof(SuiteDatabase))]
public sealed class Gamma : Recorded
{
    [TestMethod]
    public void One() => Record(nameof(One));

    [TestMethod]
    public void Two() => Record(nameof(Two));

    [TestMethod]
    public void Three() => Record(nameof(Three));
}
