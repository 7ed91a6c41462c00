using Deflake.Testing;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Deflake.Xunit2;

/// <summary>
/// An xUnit v2 test case orderer for a <c>DEFLAKE_ORDER</c> setting: <c>random</c> (by a hash of the seed and the
/// test id, subset-stable), <c>reverse</c>, or a file of test ids (unlisted tests do not run).
/// </summary>
public sealed class DeflakeTestCaseOrderer : ITestCaseOrderer
{
    private readonly TestOrderSetting _setting;

    /// <summary>Creates the orderer for a setting.</summary>
    public DeflakeTestCaseOrderer(TestOrderSetting setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        _setting = setting;
    }

    /// <summary>The id Deflake uses for a test: the full name of its class, a dot, and its method name.</summary>
    public static string TestId(ITestCase testCase)
    {
        ArgumentNullException.ThrowIfNull(testCase);
        return $"{testCase.TestMethod.TestClass.Class.Name}.{testCase.TestMethod.Method.Name}";
    }

    /// <inheritdoc/>
    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase
        => Order(_setting, testCases, byClass: false);

    /// <summary>Orders test cases by a setting; <paramref name="byClass"/> also orders the classes (random: by the class's name).</summary>
    internal static IReadOnlyList<TTestCase> Order<TTestCase>(TestOrderSetting setting, IEnumerable<TTestCase> testCases, bool byClass)
        where TTestCase : ITestCase
    {
        var cases = testCases.ToArray();
        return setting.Kind switch
        {
            TestOrderKind.Random when byClass => TestOrdering.Random(cases.Select(c => c.TestMethod.TestClass.Class.Name).Distinct(StringComparer.Ordinal), setting.Seed, n => n)
                .SelectMany(name => TestOrdering.Random(cases.Where(c => c.TestMethod.TestClass.Class.Name == name), setting.Seed, c => TestId(c), c => c.UniqueID))
                .ToArray(),
            TestOrderKind.Random => TestOrdering.Random(cases, setting.Seed, c => TestId(c), c => c.UniqueID),
            TestOrderKind.Reverse => new DefaultTestCaseOrderer(NullSink.Instance).OrderTestCases(cases).Reverse().ToArray(),
            TestOrderKind.File => TestOrdering.Listed(cases, setting.TestIds, c => TestId(c), c => c.TestMethod.TestClass.Class.Name),
            _ => cases,
        };
    }

    private sealed class NullSink : IMessageSink
    {
        public static readonly NullSink Instance = new();

        public bool OnMessage(IMessageSinkMessage message) => true;
    }
}

/// <summary>
/// An xUnit v2 test collection orderer for a <c>DEFLAKE_ORDER</c> setting: <c>random</c> by a hash of the seed and the
/// collection's name, <c>reverse</c> by name descending, a file of test ids by the last place any of the collection's
/// tests holds (collections without a listed test do not run).
/// </summary>
public sealed class DeflakeTestCollectionOrderer : ITestCollectionOrderer
{
    private readonly TestOrderSetting _setting;

    /// <summary>Creates the orderer for a setting.</summary>
    public DeflakeTestCollectionOrderer(TestOrderSetting setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        _setting = setting;
    }

    /// <summary>The test ids of each collection, filled by the assembly runner before ordering (a file order needs them).</summary>
    internal IReadOnlyDictionary<Guid, string[]> TestsOfCollection { get; set; } = new Dictionary<Guid, string[]>();

    /// <inheritdoc/>
    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections)
    {
        ArgumentNullException.ThrowIfNull(testCollections);
        var collections = testCollections.ToArray();
        return _setting.Kind switch
        {
            TestOrderKind.Random => TestOrdering.Random(collections, _setting.Seed, c => c.DisplayName, c => c.UniqueID.ToString()),
            TestOrderKind.Reverse => collections.OrderByDescending(c => c.DisplayName, StringComparer.Ordinal).ThenByDescending(c => c.UniqueID).ToArray(),
            // A file order drops unlisted tests in the case orderer; collections keep xUnit's order by their last listed test below.
            TestOrderKind.File => TestOrdering.ListedGroups(collections, _setting.TestIds, c => TestsOfCollection.TryGetValue(c.UniqueID, out var ids) ? ids : []),
            _ => collections,
        };
    }
}
