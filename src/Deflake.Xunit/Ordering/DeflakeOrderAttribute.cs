using Xunit.v3;

namespace Deflake.Xunit.Ordering;

/// <summary>
/// Lets <c>DEFLAKE_ORDER</c> decide the order of an xUnit v3 test assembly: add <c>[assembly: DeflakeOrder]</c> once,
/// anywhere in the test project. It registers both <see cref="DeflakeTestCollectionOrderer"/> and
/// <see cref="DeflakeTestCaseOrderer"/>; without <c>DEFLAKE_ORDER</c> they keep xUnit's own order.
/// </summary>
/// <remarks>
/// xUnit orders collections first, then the tests inside each collection, and runs a collection's tests together:
/// a test of class A can never run between two tests of class B. <c>random</c> shuffles collections and the tests
/// inside each; a file of ids keeps each class's tests together and runs classes in the order of their last listed
/// test, so the last listed test always runs last. For one fully global order put the tests in one collection
/// (<c>[assembly: CollectionBehavior(CollectionBehavior.CollectionPerAssembly)]</c>), at the cost of parallelism.
/// </remarks>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = false)]
public sealed class DeflakeOrderAttribute : Attribute, ITestCaseOrdererAttribute, ITestCollectionOrdererAttribute
{
    Type ITestCaseOrdererAttribute.OrdererType => typeof(DeflakeTestCaseOrderer);

    Type ITestCollectionOrdererAttribute.OrdererType => typeof(DeflakeTestCollectionOrderer);
}
