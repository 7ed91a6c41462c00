using System.Xml.Linq;
using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Parsing;

public sealed class XunitResultsTests
{
    [Fact]
    public void A_failure_message_reads_as_xunit_printed_it_not_as_its_xml_escaping()
    {
        // What xunit v3 writes with -xml for Assert.Equal(["Ben"], ["Ann"]): quotes and backslashes escaped with '\'.
        var document = XDocument.Parse("""
            <assemblies><assembly><collection name="c">
              <test name="T.M" type="T" method="M" result="Fail" start-rtf="2026-11-21T10:00:00.0000000+00:00">
                <failure><message>Collections differ at index 0
            Expected: \"Ben\"
            Actual:   \"Ann\" in C:\\shop\\a.txt\x1b</message></failure>
              </test>
            </collection></assembly></assemblies>
            """);

        var outcome = Assert.Single(XunitV3Runner.ParseResults(document));

        Assert.False(outcome.Passed);
        Assert.Equal("Collections differ at index 0\nExpected: \"Ben\"\nActual:   \"Ann\" in C:\\shop\\a.txt\u001b", outcome.Message);
    }

    [Theory]
    [InlineData(@"plain text", "plain text")]
    [InlineData(@"a\tb\r\nc", "a\tb\r\nc")]
    [InlineData(@"\x07 bell", "\a bell")]
    [InlineData(@"\q and \x41 and a trailing \", @"\q and \x41 and a trailing \")]
    public void Xunit_escapes_are_undone_and_anything_else_is_left_alone(string escaped, string expected)
        => Assert.Equal(expected, XunitV3Runner.UnescapeXunit(escaped));

    [Fact]
    public void A_character_xml_cannot_hold_comes_back_from_its_four_hex_digits()
        => Assert.Equal("lone \ud800 surrogate", XunitV3Runner.UnescapeXunit(@"lone \xd800 surrogate"));

    [Fact]
    public void The_number_of_tests_counts_skipped_and_not_run_tests_and_folds_theory_rows()
    {
        // Hunt takes the suite's size from the baseline's results instead of a listing process.
        var document = XDocument.Parse("""
            <assemblies><assembly><collection name="c">
              <test name="T.Row(1)" type="T" method="Row" result="Pass" />
              <test name="T.Row(2)" type="T" method="Row" result="Fail"><failure><message>x</message></failure></test>
              <test name="T.Skipped" type="T" method="Skipped" result="Skip" />
              <test name="T.Explicit" type="T" method="Explicit" result="NotRun" />
            </collection></assembly></assemblies>
            """);

        Assert.Single(XunitV3Runner.ParseResults(document));
        Assert.Equal(3, XunitV3Runner.CountTests(document));
    }
}
