namespace Deflake.NUnit.Tests;

/// <summary>[assembly: DeflakeDatabase] runs around [SetUp] and [TearDown]: they see the test's own database.</summary>
public sealed class CurrentTests
{
    private string? _setUp;

    [SetUp]
    public void SetUp() => _setUp = TestDatabase.Current.Name;

    [TearDown]
    public void TearDown() => Assert.That(TestDatabase.Current.Name, Is.EqualTo(_setUp));

    [Test]
    public void SetUp_sees_the_tests_own_database() => Assert.That(TestDatabase.Current.Name, Is.EqualTo(_setUp));

    [Test]
    public async Task The_database_stays_the_tests_own_across_awaits()
    {
        var before = TestDatabase.Current;
        await Task.Yield();
        await Task.Delay(1);

        Assert.That(TestDatabase.Current, Is.SameAs(before));
        Assert.That(before.Name, Is.EqualTo(_setUp));
    }
}
