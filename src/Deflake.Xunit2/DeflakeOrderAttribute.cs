using Xunit.Abstractions;
using Xunit.Sdk;

namespace Deflake.Xunit2;

/// <summary>
/// Lets <c>DEFLAKE_ORDER</c> decide the order of an xUnit v2 test assembly: add <c>[assembly: Deflake.Xunit2.DeflakeOrder]</c>
/// once. It replaces xUnit's test framework with <see cref="DeflakeTestFramework"/>, whose runner orders collections,
/// classes and tests by <c>DEFLAKE_ORDER</c> (seeded subset-stable <c>random</c>, <c>reverse</c>, or a file of test ids:
/// only those run); unset, xUnit's own order. An assembly can name only one test framework.
/// </summary>
/// <remarks>
/// A collection's tests run together and a class's tests run together, as in xUnit itself: <c>random</c> shuffles
/// collections, the classes inside each and the tests inside each class; a file keeps each class together and runs
/// classes in the order of their last listed test, so the last listed test always runs last.
/// </remarks>
[TestFrameworkDiscoverer("Deflake.Xunit2.DeflakeTestFrameworkTypeDiscoverer", "Deflake.Xunit2")]
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = false)]
public sealed class DeflakeOrderAttribute : Attribute, ITestFrameworkAttribute
{
}

/// <summary>Tells xUnit v2 that <see cref="DeflakeOrderAttribute"/> means <see cref="DeflakeTestFramework"/>.</summary>
public sealed class DeflakeTestFrameworkTypeDiscoverer : ITestFrameworkTypeDiscoverer
{
    /// <inheritdoc/>
    public Type GetTestFrameworkType(IAttributeInfo attribute) => typeof(DeflakeTestFramework);
}
