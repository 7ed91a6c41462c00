using Deflake.Testing;
using NUnit.Framework;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace Deflake.NUnit;

/// <summary>
/// Lets <c>DEFLAKE_ORDER</c> decide the order of an NUnit test assembly: add <c>[assembly: Deflake.NUnit.DeflakeOrder]</c>
/// once. NUnit has no random order of its own; when the assembly is loaded this sets NUnit's <c>Order</c> property on
/// every namespace, fixture and test: <c>random</c> sorts the children of each suite by a hash of the seed and their
/// full name (so a filtered run keeps the relative order), <c>reverse</c> reverses NUnit's own order, and a file of
/// test ids runs exactly the listed tests (the others are removed from the tree), each fixture together, fixtures in
/// the order of their last listed test. Unset: NUnit's own order (and its <c>[Order]</c> attributes).
/// </summary>
/// <remarks>
/// Tests run in this order when NUnit runs them one at a time (the default). With <c>[Parallelizable]</c> the order
/// decides which tests start first, not which end first. A <c>DEFLAKE_ORDER</c> file that cannot be read ends the test
/// process with a one-line error before any test runs.
/// </remarks>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = false)]
public sealed class DeflakeOrderAttribute : NUnitAttribute, IApplyToTest
{
    /// <summary>Orders the assembly's tests by <c>DEFLAKE_ORDER</c>.</summary>
    public void ApplyToTest(Test test)
    {
        ArgumentNullException.ThrowIfNull(test);
        var setting = TestOrderSetting.OfProcessOrExit();
        if (setting.Kind != TestOrderKind.Default)
        {
            NUnitOrder.Apply(test, setting);
        }
    }
}

/// <summary>The order rules of <see cref="DeflakeOrderAttribute"/> on NUnit's test tree.</summary>
internal static class NUnitOrder
{
    /// <summary>The id Deflake uses for a test: the full name of its class, a dot, and its method name.</summary>
    public static string? TestId(ITest test) => test.ClassName is { } className && test.MethodName is { } method ? $"{className}.{method}" : null;

    public static void Apply(ITest suite, TestOrderSetting setting)
    {
        var position = setting.Kind == TestOrderKind.File
            ? setting.TestIds.Select((id, index) => (id, index)).GroupBy(x => x.id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().index, StringComparer.Ordinal)
            : null;
        Visit(suite, setting, position);
    }

    /// <summary>Orders the children of <paramref name="suite"/>; returns the last listed position below it (file order), or -1.</summary>
    private static int Visit(ITest suite, TestOrderSetting setting, Dictionary<string, int>? position)
    {
        var children = suite.Tests.ToList();
        var last = new Dictionary<ITest, int>();
        foreach (var child in children)
        {
            last[child] = child.IsSuite && child.Tests.Count > 0 && !(child is ParameterizedMethodSuite)
                ? Visit(child, setting, position)
                : position is null ? -1 : Position(child, position);
        }

        IReadOnlyList<ITest> ordered;
        switch (setting.Kind)
        {
            case TestOrderKind.Random:
                // Methods by their id (rows of one parameterised method share it; their full name breaks the tie), suites by full name.
                ordered = TestOrdering.Random(children, setting.Seed, c => TestId(c) is { } id && !c.IsSuite ? id : c.FullName, c => c.FullName);
                break;
            case TestOrderKind.Reverse:
                ordered = children.AsEnumerable().Reverse().ToArray();
                break;
            default:
                foreach (var unlisted in children.Where(c => last[c] < 0))
                {
                    suite.Tests.Remove(unlisted);
                }

                ordered = children.Where(c => last[c] >= 0).OrderBy(c => last[c]).ToArray();
                break;
        }

        for (var i = 0; i < ordered.Count; i++)
        {
            ordered[i].Properties.Set(PropertyNames.Order, i);
        }

        return last.Count == 0 ? -1 : last.Values.Max();
    }

    private static int Position(ITest test, Dictionary<string, int> position)
    {
        if (test is ParameterizedMethodSuite rows)
        {
            // Every row of a parameterised method shares the method's id.
            return TestId(rows.Tests.FirstOrDefault() ?? rows) is { } rowId && position.TryGetValue(rowId, out var p) ? p : -1;
        }

        return TestId(test) is { } id && position.TryGetValue(id, out var index) ? index : -1;
    }
}
