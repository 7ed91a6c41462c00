using System.Text.Json;
using Deflake.Testing;

namespace Deflake.MSTest;

/// <summary>
/// How a <c>DEFLAKE_ORDER</c> reaches an MSTest run. MSTest (4.5) fixes the order before any test code runs: by default
/// the declaration order, class by class; its <c>randomizeTestOrder</c> shuffles the filtered list with
/// <c>System.Random</c>, so a filtered rerun does not keep the relative order. What it does honour exactly is a chain of
/// test dependencies declared in its configuration file (<c>mstest:execution:dependencies</c>, Microsoft.Testing.Platform
/// only, passed with <c>--config-file</c>), even across classes; a dependency on a test that does not run (filtered
/// out) is ignored with a warning, so the chain must name exactly the tests that run. <see cref="Order"/> puts those
/// tests in the order of a setting (subset-stable: a subset keeps its relative order) and <see cref="Configuration"/>
/// writes the chain, with <c>proceedOnFailure</c> so that a failing test does not skip the rest.
/// </summary>
public static class MSTestOrder
{
    /// <summary>The tests that will run, in the order of <paramref name="setting"/>.</summary>
    /// <param name="setting">The order (<c>DEFLAKE_ORDER</c>, read with <see cref="TestOrderSetting.FromEnvironment"/>).</param>
    /// <param name="testIds">The ids (<c>Namespace.Class.Method</c>) of the tests that will run, in MSTest's own order.</param>
    public static IReadOnlyList<string> Order(TestOrderSetting setting, IEnumerable<string> testIds)
    {
        ArgumentNullException.ThrowIfNull(setting);
        ArgumentNullException.ThrowIfNull(testIds);
        var ids = testIds.Distinct(StringComparer.Ordinal).ToArray();
        return setting.Kind switch
        {
            TestOrderKind.Random => TestOrdering.Random(ids, setting.Seed, id => id),
            TestOrderKind.Reverse => ids.Reverse().ToArray(),
            // MSTest follows the chain across classes, so a file's order is kept exactly (no grouping by class).
            TestOrderKind.File => TestOrdering.Listed(ids, setting.TestIds, id => id),
            _ => ids,
        };
    }

    /// <summary>
    /// The text of an MSTest configuration file (<c>--config-file</c>) that runs <paramref name="orderedTestIds"/> in this
    /// order: each test depends on the one before it, and proceeds when that one failed.
    /// </summary>
    public static string Configuration(IReadOnlyList<string> orderedTestIds)
    {
        ArgumentNullException.ThrowIfNull(orderedTestIds);
        var nodes = orderedTestIds.Skip(1).Select((test, i) => new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["test"] = test,
            ["dependsOn"] = new[] { orderedTestIds[i] },
            ["proceedOnFailure"] = true,
        });
        var root = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["mstest"] = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                ["execution"] = new Dictionary<string, object>(StringComparer.Ordinal)
                {
                    ["dependencies"] = new Dictionary<string, object>(StringComparer.Ordinal) { ["nodes"] = nodes.ToArray() },
                },
            },
        };
        return JsonSerializer.Serialize(root, ConfigurationJson.Options);
    }

    private static class ConfigurationJson
    {
        public static readonly JsonSerializerOptions Options = new() { WriteIndented = true };
    }
}
