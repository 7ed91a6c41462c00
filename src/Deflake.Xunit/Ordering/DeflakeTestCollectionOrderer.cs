using Deflake.Testing;
using Xunit.Sdk;
using Xunit.v3;

namespace Deflake.Xunit.Ordering;

/// <summary>
/// An xUnit v3 test collection orderer that honours <c>DEFLAKE_ORDER</c>. xUnit runs collections one after another
/// (when not in parallel) and the tests of one collection together, so this decides which collection goes first:
/// <c>random</c> orders them by a hash of the seed and the collection's name, <c>reverse</c> by name descending, and a
/// file of test ids by the last place any of the collection's tests holds in the file (collections without a listed
/// test do not run). Unset: xUnit's own order. Register it with <see cref="DeflakeOrderAttribute"/>.
/// </summary>
public sealed class DeflakeTestCollectionOrderer : ITestCollectionOrderer
{
    private readonly TestOrderSetting _setting;
    private readonly DeflakeConfigurationException? _error;

    /// <summary>
    /// Creates the orderer for this process's <c>DEFLAKE_ORDER</c>. A setting that cannot be used (a file that cannot
    /// be read) is reported when xUnit asks for the order, not here: xUnit only logs an orderer that fails to construct
    /// and silently falls back to its own order, while one that fails to order stops the run with the error.
    /// </summary>
    public DeflakeTestCollectionOrderer()
        : this(TestOrderSetting.OfProcess())
    {
    }

    /// <summary>Creates the orderer for a setting as read, or the error that makes it unusable (thrown when ordering).</summary>
    internal DeflakeTestCollectionOrderer((TestOrderSetting Setting, DeflakeConfigurationException? Error) read)
    {
        (_setting, _error) = read;
    }

    /// <summary>Creates the orderer for a given setting.</summary>
    public DeflakeTestCollectionOrderer(TestOrderSetting setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        _setting = setting;
    }

    /// <summary>
    /// A collection's name without the <c>(id: …)</c> suffix xUnit adds to per-class collections: stable across
    /// machines and builds, unlike the unique id.
    /// </summary>
    public static string StableName(ITestCollectionMetadata collection)
    {
        ArgumentNullException.ThrowIfNull(collection);
        var name = collection.TestCollectionDisplayName;
        var suffix = name.LastIndexOf(" (id: ", StringComparison.Ordinal);
        return suffix > 0 && name.EndsWith(')') ? name[..suffix] : name;
    }

    /// <inheritdoc/>
    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : ITestCollection
    {
        ArgumentNullException.ThrowIfNull(testCollections);
        if (_error is not null)
        {
            throw _error;
        }

        return _setting.Kind switch
        {
            TestOrderKind.Random => TestOrdering.Random(testCollections, _setting.Seed, c => StableName(c), c => c.UniqueID),
            TestOrderKind.Reverse => testCollections
                .OrderByDescending(c => StableName(c), StringComparer.Ordinal)
                .ThenByDescending(c => c.UniqueID, StringComparer.Ordinal)
                .ToArray(),
            TestOrderKind.File => OrderByList(testCollections),
            _ => DefaultTestCollectionOrderer.Instance.OrderTestCollections(testCollections),
        };
    }

    private IReadOnlyCollection<TTestCollection> OrderByList<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : ITestCollection
    {
        var collectionOfTest = MapListedTestsToCollections(testCollections.OfType<IXunitTestCollection>().FirstOrDefault()?.TestAssembly);
        var testsOfCollection = collectionOfTest
            .GroupBy(pair => pair.Value, pair => pair.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        return TestOrdering.ListedGroups(testCollections, _setting.TestIds,
            c => testsOfCollection.TryGetValue(c.UniqueID, out var tests) ? tests : []);
    }

    /// <summary>Test id → unique id of the collection xUnit puts its class in, using xUnit's own collection factory.</summary>
    private Dictionary<string, string> MapListedTestsToCollections(IXunitTestAssembly? testAssembly)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (testAssembly is null)
        {
            return map;
        }

        // Without a [CollectionBehavior] naming a factory xUnit uses one collection per class.
        var factory = ExtensibilityPointFactory.GetXunitTestCollectionFactory(testAssembly.CollectionBehavior?.CollectionFactoryType, testAssembly)
            ?? new CollectionPerClassTestCollectionFactory(testAssembly);

        var collectionOfClass = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var testId in _setting.TestIds)
        {
            var dot = testId.LastIndexOf('.');
            if (dot <= 0)
            {
                continue;
            }

            var className = testId[..dot];
            if (!collectionOfClass.TryGetValue(className, out var collectionId))
            {
                var type = testAssembly.Assembly.GetType(className, throwOnError: false);
                collectionId = type is null ? null : factory.Get(type).UniqueID;
                collectionOfClass[className] = collectionId;
            }

            if (collectionId is not null)
            {
                map[testId] = collectionId;
            }
        }

        return map;
    }
}
