using Deflake.Testing;
using Xunit.Sdk;
using Xunit.v3;

namespace Deflake.Xunit.Ordering;

/// <summary>
/// An xUnit v3 test case orderer that honours <c>DEFLAKE_ORDER</c>: <c>random</c> (seeded by <c>DEFLAKE_SEED</c>,
/// subset-stable), <c>reverse</c>, or a file of test ids (unlisted tests do not run). Unset: xUnit's own order.
/// Register it with <see cref="DeflakeOrderAttribute"/>.
/// </summary>
public sealed class DeflakeTestCaseOrderer : ITestCaseOrderer
{
    private readonly TestOrderSetting _setting;
    private readonly DeflakeConfigurationException? _error;

    /// <summary>
    /// Creates the orderer for this process's <c>DEFLAKE_ORDER</c>. A setting that cannot be used (a file that cannot
    /// be read) is reported when xUnit asks for the order, not here: xUnit only logs an orderer that fails to construct
    /// and silently falls back to its own order, while one that fails to order stops the run with the error.
    /// </summary>
    public DeflakeTestCaseOrderer()
        : this(TestOrderSetting.OfProcess())
    {
    }

    /// <summary>Creates the orderer for a setting as read, or the error that makes it unusable (thrown when ordering).</summary>
    internal DeflakeTestCaseOrderer((TestOrderSetting Setting, DeflakeConfigurationException? Error) read)
    {
        (_setting, _error) = read;
    }

    /// <summary>Creates the orderer for a given setting.</summary>
    public DeflakeTestCaseOrderer(TestOrderSetting setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        _setting = setting;
    }

    /// <summary>
    /// The id Deflake uses for a test: the full name of its class, a dot, and its method name (what the xUnit
    /// runner's <c>-method</c> filter takes). Every row of a theory shares its method's id.
    /// </summary>
    public static string TestId(ITestCaseMetadata testCase)
    {
        ArgumentNullException.ThrowIfNull(testCase);
        return testCase.TestClassName is { } className && testCase.TestMethodName is { } methodName
            ? $"{className}.{methodName}"
            : testCase.TestCaseDisplayName;
    }

    /// <inheritdoc/>
    public IReadOnlyCollection<TTestCase> OrderTestCases<TTestCase>(IReadOnlyCollection<TTestCase> testCases)
        where TTestCase : notnull, ITestCase
    {
        ArgumentNullException.ThrowIfNull(testCases);
        if (_error is not null)
        {
            throw _error;
        }

        return _setting.Kind switch
        {
            TestOrderKind.Random => TestOrdering.Random(testCases, _setting.Seed, t => TestId(t), t => t.UniqueID),
            TestOrderKind.Reverse => DefaultTestCaseOrderer.Instance.OrderTestCases(testCases).Reverse().ToArray(),
            TestOrderKind.File => TestOrdering.Listed(testCases, _setting.TestIds, t => TestId(t), t => t.TestClassName ?? string.Empty),
            _ => DefaultTestCaseOrderer.Instance.OrderTestCases(testCases),
        };
    }
}
