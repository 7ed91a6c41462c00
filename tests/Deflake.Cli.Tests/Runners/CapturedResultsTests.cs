using System.Xml.Linq;
using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Runners;

/// <summary>
/// Reads results captured from real runs (Runners/Captured): TRX from MSTest 4.5.3 and NUnit 6.3.1 as
/// Microsoft.Testing.Platform programs, their <c>--list-tests json</c>, and xUnit v2 console XML.
/// </summary>
public sealed class CapturedResultsTests
{
    private static string Captured(string name) => Repository.Path($"tests/Deflake.Cli.Tests/Runners/Captured/{name}");

    [Theory]
    [InlineData("mstest-4.5.3-rows.trx", "Exp.Ms")]
    [InlineData("nunit-6.3.1-rows.trx", "Exp.Nu")]
    public void Trx_results_name_each_test_by_class_and_method_with_data_rows_folded(string file, string ns)
    {
        var document = XDocument.Load(Captured(file));
        var outcomes = TrxResults.Parse(document);

        Assert.Equal([$"{ns}.C0.T1", $"{ns}.C1.T3", $"{ns}.Rows.Row_two_fails"], outcomes.Select(o => o.TestId).Order(StringComparer.Ordinal));
        Assert.True(outcomes.Single(o => o.TestId == $"{ns}.C0.T1").Passed);
        var boom = outcomes.Single(o => o.TestId == $"{ns}.C1.T3");
        Assert.False(boom.Passed);
        Assert.Contains("boom", boom.Message, StringComparison.Ordinal);

        // Two rows, the second failing: one outcome, failed, with the row's message as written (XML unescaped).
        var rows = outcomes.Single(o => o.TestId == $"{ns}.Rows.Row_two_fails");
        Assert.False(rows.Passed);
        Assert.Contains("row <2> & \"quoted\"", rows.Message, StringComparison.Ordinal);
        Assert.True(rows.Start < rows.Finish);

        // In start order, each with its start and end time.
        Assert.All(outcomes, o => Assert.True(o.Start is not null && o.Finish is not null && o.Start <= o.Finish));
        Assert.Equal(outcomes.Select(o => o.Start), outcomes.Select(o => o.Start).Order());
    }

    [Fact]
    public void Skipped_tests_are_counted_as_discovered_but_have_no_outcome()
    {
        var document = XDocument.Load(Captured("nunit-6.3.1-rows.trx"));

        Assert.DoesNotContain(TrxResults.Parse(document), o => o.TestId == "Exp.Nu.Rows.Skipped");
        Assert.Equal(4, TrxResults.CountTests(document));
    }

    [Fact]
    public void Tests_that_ran_at_the_same_time_in_a_parallel_mstest_run_overlap()
    {
        // MSTest ran C1.T3 and C0.T1 in parallel ([Parallelize] at method level) in the captured run.
        var outcomes = TrxResults.Parse(XDocument.Load(Captured("mstest-4.5.3-rows.trx")));

        Assert.True(outcomes.Single(o => o.TestId == "Exp.Ms.C1.T3").OverlapsWith(outcomes.Single(o => o.TestId == "Exp.Ms.C0.T1")));
    }

    [Theory]
    [InlineData("mstest-4.5.3-list.json.txt", "Exp.Ms", 31)]
    [InlineData("nunit-6.3.1-list.json.txt", "Exp.Nu", 32)]
    public void The_testing_platform_json_listing_gives_each_test_id_once(string file, string ns, int count)
    {
        var ids = TestingPlatformRunner.ParseTestList(File.ReadAllText(Captured(file)));

        Assert.Equal(count, ids.Count);
        Assert.Equal($"{ns}.C0.T0", ids[0]);
        Assert.Contains($"{ns}.Rows.Row_two_fails", ids);
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Xunit_v2_console_xml_keeps_the_order_the_tests_ran_in_and_their_collections()
    {
        var outcomes = XunitV3Runner.ParseResults(XDocument.Load(Captured("xunit-2.9.3-console-2.4.1.xml")));

        Assert.Equal(["Exp.X2.C1.T3", "Exp.X2.C0.T1", "Exp.X2.C2.T0"], outcomes.Select(o => o.TestId));
        Assert.Equal([false, true, true], outcomes.Select(o => o.Passed));
        Assert.Equal("Test collection for Exp.X2.C0", outcomes[1].Collection);
        // No start times in xUnit v2's XML: whether two tests overlapped is unknown, not "no".
        Assert.Null(outcomes[0].OverlapsWith(outcomes[1]));
    }

    [Fact]
    public void A_filter_names_exactly_the_tests_by_fully_qualified_name_with_filter_characters_escaped()
    {
        Assert.Equal("FullyQualifiedName=A.B.C|FullyQualifiedName=A.B.D", TestingPlatformRunner.Filter(["A.B.C", "A.B.D", "A.B.C"]));
        Assert.Equal(@"FullyQualifiedName=A.B\(x\)\|\&\=\!\~\\", TestingPlatformRunner.Filter([@"A.B(x)|&=!~\"]));
    }

    [Theory]
    [InlineData("Ns.C", "M", "Ns.C.M")]
    [InlineData("Ns.C", "M(1, \"a\")", "Ns.C.M")]
    [InlineData("Ns.C", "M (2)", "Ns.C.M")]
    [InlineData("Ns.Outer+Inner", "M<Int32>(1)", "Ns.Outer+Inner.M")]
    public void A_test_id_drops_the_arguments_of_a_row(string className, string method, string expected)
        => Assert.Equal(expected, TrxResults.TestId(className, method));
}
