using Deflake.Frameworks;
using Deflake.Testing;

namespace Deflake.NUnit.Tests.OrderSuite;

/// <summary>Tests whose only job is to be ordered: each records its id (when run as OrderTests' child) and has its database.</summary>
[NonParallelizable]
public abstract class Recorded
{
    protected void Record(string method)
    {
        Assert.That(TestDatabase.CurrentOrNull, Is.Not.Null);
        SuiteSupport.RecordOrder(TestPools.TestId(GetType(), method));
    }
}

public sealed class Alpha : Recorded
{
    [Test]
    public void One() => Record(nameof(One));

    [Test]
    public void Two() => Record(nameof(Two));

    [Test]
    public void Three() => Record(nameof(Three));
}

public sealed class Beta : Recorded
{
    [Test]
    public void One() => Record(nameof(One));

    [Test]
    public void Two() => Record(nameof(Two));

    [Test]
    public void Three() => Record(nameof(Three));
}

public sealed class Gamma : Recorded
{
    [Test]
    public void One() => Record(nameof(One));

    [Test]
    public void Two() => Record(nameof(Two));

    [Test]
    public void Three() => Record(nameof(Three));
}
