using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Hunting;

public sealed class TestFilterTests
{
    private static readonly TestCase[] Suite =
    [
        new("Shop.Cart.CartTests.Adds_an_item", Traits(("Category", "Fast"))),
        new("Shop.Cart.CartTests.Empties"),
        new("Shop.Cart.CheckoutTests.Totals", Traits(("Category", "Slow"), ("Priority", "1"))),
        new("Shop.Billing.InvoiceTests.Adds_an_item", Traits(("Category", "Slow"))),
        new("Other.MiscTests.Works"),
    ];

    private static Dictionary<string, IReadOnlyList<string>> Traits(params (string Name, string Value)[] traits)
        => traits.GroupBy(t => t.Name).ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(t => t.Value).ToArray(), StringComparer.OrdinalIgnoreCase);

    private static string[] Select(string filter) => Suite.Where(TestFilter.Parse(filter).Matches).Select(t => t.Id).ToArray();

    [Theory]
    [InlineData("FullyQualifiedName~Shop.Cart", "Shop.Cart.CartTests.Adds_an_item Shop.Cart.CartTests.Empties Shop.Cart.CheckoutTests.Totals")]
    [InlineData("FullyQualifiedName=Shop.Cart.CartTests.Empties", "Shop.Cart.CartTests.Empties")]
    [InlineData("fullyqualifiedname=shop.cart.carttests.empties", "Shop.Cart.CartTests.Empties")]
    [InlineData("FullyQualifiedName!~Shop", "Other.MiscTests.Works")]
    [InlineData("Name=Adds_an_item", "Shop.Cart.CartTests.Adds_an_item Shop.Billing.InvoiceTests.Adds_an_item")]
    [InlineData("ClassName=Shop.Cart.CartTests", "Shop.Cart.CartTests.Adds_an_item Shop.Cart.CartTests.Empties")]
    [InlineData("Namespace=Shop.Billing", "Shop.Billing.InvoiceTests.Adds_an_item")]
    [InlineData("Category=Slow", "Shop.Cart.CheckoutTests.Totals Shop.Billing.InvoiceTests.Adds_an_item")]
    [InlineData("Category!=Slow", "Shop.Cart.CartTests.Adds_an_item Shop.Cart.CartTests.Empties Other.MiscTests.Works")]
    [InlineData("Priority=1", "Shop.Cart.CheckoutTests.Totals")]
    [InlineData("Category=Fast|ClassName=Other.MiscTests", "Shop.Cart.CartTests.Adds_an_item Other.MiscTests.Works")]
    [InlineData("Category=Slow&FullyQualifiedName~Cart", "Shop.Cart.CheckoutTests.Totals")]
    [InlineData("Category=Fast | Category=Slow & Name=Totals", "Shop.Cart.CartTests.Adds_an_item Shop.Cart.CheckoutTests.Totals")]
    [InlineData("(Category=Fast|Category=Slow)&Name=Adds_an_item", "Shop.Cart.CartTests.Adds_an_item Shop.Billing.InvoiceTests.Adds_an_item")]
    [InlineData("MiscTests", "Other.MiscTests.Works")]
    public void The_dotnet_test_syntax_people_type_selects_what_dotnet_test_would(string filter, string expected)
        => Assert.Equal(expected.Split(' '), Select(filter));

    [Theory]
    [InlineData("")]
    [InlineData("Category=")]
    [InlineData("=Slow")]
    [InlineData("(Category=Slow")]
    [InlineData("Category=Slow)")]
    [InlineData("Category=Slow|")]
    public void An_expression_it_cannot_read_is_a_one_line_usage_error_that_says_how_to_write_one(string filter)
    {
        var error = Assert.Throws<CliException>(() => TestFilter.Parse(filter));

        Assert.Equal(ExitCodes.UsageError, error.ExitCode);
        Assert.Single(error.Message.Split('\n'));
        Assert.StartsWith($"--filter '{filter}': ", error.Message, StringComparison.Ordinal);
        Assert.Contains("FullyQualifiedName~", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hunt_with_a_filter_runs_only_the_selected_tests_in_every_run_and_finds_only_among_them()
    {
        var runner = new SyntheticRunner();
        runner.Add("Shop.Cart.CartTests.Polluter");
        runner.Add("Shop.Cart.CartTests.Victim", (_, before) => before.Contains("Shop.Cart.CartTests.Polluter"));
        runner.Add("Shop.Cart.CartTests.Fine");
        runner.Add("Shop.Billing.InvoiceTests.Unordered", (r, _) => r.Chaos == "rows");

        var options = new HuntOptions(5, 3, ["rows"], "Shop") { Filter = TestFilter.Parse("ClassName=Shop.Cart.CartTests") };
        var outcome = await new Hunter(runner, options).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal(3, outcome.TestCount);
        Assert.All(runner.Requests, r => Assert.DoesNotContain("Shop.Billing.InvoiceTests.Unordered", r.Tests ?? ["(all)"]));
        var finding = Assert.Single(outcome.Findings);
        Assert.Equal(("Shop.Cart.CartTests.Victim", FlakeCause.TestOrder, "Shop.Cart.CartTests.Polluter"), (finding.Test, finding.Cause, finding.Polluter));
        // The survey's orders are still seeded and distinct: reverse and the random orders are lists.
        var orders = runner.Requests.Take(outcome.SurveyRunCount).Where(r => !r.Parallel).Select(r => string.Join(',', r.Tests!)).ToArray();
        Assert.Contains(orders, o => o.StartsWith("Shop.Cart.CartTests.Fine", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_filter_that_selects_nothing_is_a_usage_error_naming_the_filter()
    {
        var runner = new SyntheticRunner().Add("Shop.Cart.CartTests.Fine");

        var error = await Assert.ThrowsAsync<CliException>(() => new Hunter(runner, new HuntOptions(5, 3, [], "Shop") { Filter = TestFilter.Parse("Category=Nope") })
            .HuntAsync(TestContext.Current.CancellationToken));

        Assert.Equal(ExitCodes.UsageError, error.ExitCode);
        Assert.Contains("Category=Nope", error.Message, StringComparison.Ordinal);
        Assert.Empty(runner.Requests);
    }

    [Fact]
    public async Task The_command_line_refuses_a_filter_it_cannot_read_before_building()
    {
        foreach (var command in new[] { new[] { "hunt" }, ["bisect", "--victim", "Shop.Tests.Victim"] })
        {
            var (code, _, error) = await Commands.CommandLineTests.RunAsync([.. command, "--filter", "Category=(", Repository.Path("samples/Shop.FlakyTests")]);

            Assert.Equal(ExitCodes.UsageError, code);
            Assert.Single(error.Trim().Split('\n'));
            Assert.StartsWith("deflake: --filter 'Category=('", error, StringComparison.Ordinal);
        }
    }
}
