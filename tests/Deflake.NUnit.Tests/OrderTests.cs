using Deflake.Frameworks;
using Deflake.Testing;

namespace Deflake.NUnit.Tests;

/// <summary>Runs this assembly's OrderSuite as a child `dotnet test` with DEFLAKE_ORDER, and reads the order its tests ran in.</summary>
[Parallelizable(ParallelScope.Self)]
public sealed class OrderTests
{
    private const string Suite = "Deflake.NUnit.Tests.OrderSuite";
    private static readonly string Assembly = typeof(OrderTests).Assembly.Location;

    private static Dictionary<string, string> Random(int seed) => new(StringComparer.Ordinal)
    {
        ["DEFLAKE_ORDER"] = "random",
        ["DEFLAKE_SEED"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [Test]
    public async Task A_seeded_order_keeps_its_relative_order_in_a_filtered_rerun()
    {
        var full = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", Random(7));
        var filtered = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}.Alpha|FullyQualifiedName~{Suite}.Gamma.Two|FullyQualifiedName~{Suite}.Beta.One", Random(7));

        Assert.That(full.ExitCode, Is.EqualTo(0), full.Output);
        Assert.That(full.Order, Has.Count.EqualTo(9));
        Assert.That(filtered.Order, Has.Count.EqualTo(5));
        Assert.That(filtered.Order, Is.EqualTo(full.Order.Where(filtered.Order.Contains)));
        // NUnit runs a fixture's tests together: the order is seeded per fixture and per test within it.
        Assert.That(full.Order.OrderBy(id => FirstIndexOfClass(full.Order, id)), Is.EqualTo(full.Order));
    }

    [Test]
    public async Task Two_seeds_give_two_orders_and_one_seed_the_same_order_twice()
    {
        var seven = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", Random(7));
        var again = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", Random(7));
        var other = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", Random(8));

        Assert.That(again.Order, Is.EqualTo(seven.Order));
        Assert.That(other.Order, Is.Not.EqualTo(seven.Order));
        Assert.That(other.Order.Order(StringComparer.Ordinal), Is.EqualTo(seven.Order.Order(StringComparer.Ordinal)));
    }

    [Test]
    public async Task A_file_runs_exactly_the_listed_tests_and_the_last_listed_last()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllLinesAsync(file, [$"{Suite}.Gamma.Two", $"{Suite}.Alpha.Three", $"{Suite}.Gamma.One"]);

            var run = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", new Dictionary<string, string>(StringComparer.Ordinal) { ["DEFLAKE_ORDER"] = file });

            Assert.That(run.Order, Is.EqualTo(new[] { $"{Suite}.Alpha.Three", $"{Suite}.Gamma.Two", $"{Suite}.Gamma.One" }));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public async Task An_order_file_that_cannot_be_read_fails_the_run_with_a_one_line_error()
    {
        var run = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}", new Dictionary<string, string>(StringComparer.Ordinal) { ["DEFLAKE_ORDER"] = "no-such-order-file.txt" });

        Assert.That(run.ExitCode, Is.Not.EqualTo(0));
        Assert.That(run.Order, Is.Empty);
        Assert.That(run.Output.Split('\n').Count(l => l.Contains("DEFLAKE_ORDER: 'no-such-order-file.txt' is neither 'random' nor 'reverse' nor a readable file of test ids", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(1), run.Output);
    }

    [Test]
    public async Task A_test_DEFLAKE_CHAOS_TESTS_names_gets_its_chaos_through_the_attribute_and_the_process_reports_activity()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, $"identities\t{Suite}.Alpha.Two\n");

            var run = await SuiteSupport.RunChildAsync(Assembly, $"FullyQualifiedName~{Suite}.Alpha", new Dictionary<string, string>(StringComparer.Ordinal) { ["DEFLAKE_CHAOS_TESTS"] = file });

            Assert.That(run.Chaos[$"{Suite}.Alpha.Two"], Is.EqualTo("identities"));
            Assert.That(run.Chaos[$"{Suite}.Alpha.One"], Is.EqualTo("none"));
            Assert.That(run.Chaos[$"{Suite}.Alpha.Three"], Is.EqualTo("none"));
            foreach (var line in new[] { "process", "pool\tnone", "rent\tnone", "pool\tidentities", "rent\tidentities" })
            {
                Assert.That(run.Activity, Does.Contain(line));
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void The_seeded_order_is_the_shared_rule_of_every_integration()
    {
        var ids = new[] { "A.One", "A.Two", "B.One" };

        Assert.That(TestOrdering.Random(ids.Reverse(), 7, id => id), Is.EqualTo(TestOrdering.Random(ids, 7, id => id)));
    }

    private static int FirstIndexOfClass(IReadOnlyList<string> order, string id)
    {
        var className = id[..id.LastIndexOf('.')];
        return order.ToList().FindIndex(other => other.StartsWith(className + ".", StringComparison.Ordinal));
    }
}
