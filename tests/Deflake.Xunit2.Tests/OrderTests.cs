using Deflake.Frameworks;
using Deflake.Testing;

namespace Deflake.Xunit2.Tests;

/// <summary>Runs this assembly's OrderSuite as a child `dotnet test` with DEFLAKE_ORDER, and reads the order its tests ran in.</summary>
public sealed class OrderTests
{
    private const string Suite = "Deflake.Xunit2.Tests.OrderSuite";
    private static readonly string Assembly = typeof(OrderTests).Assembly.Location;

    private static Dictionary<string, string> Random(int seed) => new(StringComparer.Ordinal)
    {
        ["DEFLAKE_ORDER"] = "random",
        ["DEFLAKE_SEED"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [Fact]
    public async Task A_seeded_order_keeps_its_relative_order_in_a_filtered_rerun()
    {
        var full = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", Random(7));
        var filtered = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}.Alpha|FullyQualifiedName~{Suite}.Gamma.Two|FullyQualifiedName~{Suite}.Beta.One", Random(7));

        Assert.True(full.ExitCode == 0, full.Output);
        Assert.Equal(9, full.Order.Count);
        Assert.Equal(5, filtered.Order.Count);
        Assert.Equal(full.Order.Where(filtered.Order.Contains), filtered.Order);
        // xUnit v2 runs a class's tests together: the order is seeded per class and per test within it.
        Assert.Equal(full.Order, full.Order.OrderBy(id => FirstIndexOfClass(full.Order, id)));
    }

    [Fact]
    public async Task Two_seeds_give_two_orders_and_one_seed_the_same_order_twice()
    {
        var seven = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", Random(7));
        var again = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", Random(7));
        var other = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", Random(8));

        Assert.Equal(seven.Order, again.Order);
        Assert.NotEqual(seven.Order, other.Order);
        Assert.Equal(seven.Order.Order(StringComparer.Ordinal), other.Order.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_file_runs_exactly_the_listed_tests_and_the_last_listed_last()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllLinesAsync(file, [$"{Suite}.Gamma.Two", $"{Suite}.Alpha.Three", $"{Suite}.Gamma.One"]);

            var run = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", new Dictionary<string, string>(StringComparer.Ordinal) { ["DEFLAKE_ORDER"] = file });

            Assert.Equal([$"{Suite}.Alpha.Three", $"{Suite}.Gamma.Two", $"{Suite}.Gamma.One"], run.Order);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task An_order_file_that_cannot_be_read_fails_the_run_with_a_one_line_error()
    {
        var run = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", new Dictionary<string, string>(StringComparer.Ordinal) { ["DEFLAKE_ORDER"] = "no-such-order-file.txt" });

        Assert.NotEqual(0, run.ExitCode);
        Assert.Empty(run.Order);
        Assert.Contains(run.Output.Split('\n'), l => l.Contains("DEFLAKE_ORDER: 'no-such-order-file.txt' is neither 'random' nor 'reverse' nor a readable file of test ids", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_test_DEFLAKE_CHAOS_TESTS_names_gets_its_chaos_through_the_attribute_and_the_process_reports_activity()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, $"identities\t{Suite}.Alpha.Two\n");

            var run = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}.Alpha", new Dictionary<string, string>(StringComparer.Ordinal) { ["DEFLAKE_CHAOS_TESTS"] = file });

            Assert.Equal("identities", run.Chaos[$"{Suite}.Alpha.Two"]);
            Assert.Equal("none", run.Chaos[$"{Suite}.Alpha.One"]);
            Assert.Equal("none", run.Chaos[$"{Suite}.Alpha.Three"]);
            foreach (var line in new[] { "process", "pool\tnone", "rent\tnone", "pool\tidentities", "rent\tidentities" })
            {
                Assert.Contains(line, run.Activity);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void The_seeded_order_is_the_shared_rule_of_every_integration()
    {
        var ids = new[] { "A.One", "A.Two", "B.One" };

        Assert.Equal(TestOrdering.Random(ids, 7, id => id), TestOrdering.Random(ids.Reverse(), 7, id => id));
    }

    private static int FirstIndexOfClass(IReadOnlyList<string> order, string id)
    {
        var className = id[..id.LastIndexOf('.')];
        return order.ToList().FindIndex(other => other.StartsWith(className + ".", StringComparison.Ordinal));
    }
}
