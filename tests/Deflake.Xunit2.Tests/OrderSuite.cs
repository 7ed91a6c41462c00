using Deflake.Frameworks;
using Deflake.Testing;

namespace Deflake.Xunit2.Tests.OrderSuite;

/// <summary>
/// Tests whose only job is to be ordered: each records its id (when run as OrderTests' child) and has its database.
/// One collection, so they run one at a time and the classes are ordered inside it.
/// </summary>
public abstract class Recorded
{
    protected void Record(string method)
    {
        Assert.NotNull(TestDatabase.CurrentOrNull);
        SuiteSupport.RecordOrder(TestPools.TestId(GetType(), method));
    }
}

[Collection("OrderSuite")]
public sealed class Alpha : Recorded
{
    [Fact]
    public void One() => Record(nameof(One));

    [Fact]
    public void Two() => Record(nameof(Two));

    [Fact]
    public void Three() => Record(nameof(Three));
}

[Collection("OrderSuite")]
public sealed class Beta : Recorded
{
    [Fact]
    public void One() => Record(nameof(One));

    [Fact]
    public void Two() => Record(nameof(Two));

    [Fact]
    public void Three() => Record(nameof(Three));
}

[Collection("OrderSuite")]
public sealed class Gamma : Recorded
{
    [Fact]
    public void One() => Record(nameof(One));

    [Fact]
    public void Two() => Record(nameof(Two));

    [Fact]
    public void Three() => Record(nameof(Three));
}
