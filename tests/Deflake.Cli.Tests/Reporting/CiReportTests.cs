using System.Runtime.CompilerServices;
using System.Xml.Linq;
using Deflake.Cli.Hunting;
using Deflake.Cli.Reporting;
using Deflake.Cli.Tests.Hunting;

namespace Deflake.Cli.Tests.Reporting;

public sealed class CiReportTests
{
    private const string Victim = "Shop.A.Victim";
    private const string Polluter = "Shop.B.Polluter";
    private const string Tricky = "Shop.C.<Tricky> & \"quoted\" | piped";

    private static async Task<HuntOutcome> HuntAsync()
    {
        var runner = new SyntheticRunner()
            .Add("Shop.A.Ok")
            .Add(Victim, (_, before) => before.Contains(Polluter))
            .Add(Polluter)
            .Add(Tricky, (r, _) => r.Chaos == "rows")
            .Add("Shop.D.Broken", (_, _) => true);
        return await new Hunter(runner, new HuntOptions(4242, 2, ["identities", "rows"], "samples/Shop")).HuntAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task The_junit_report_parses_and_has_a_failing_case_per_finding_and_per_broken_test()
    {
        var outcome = await HuntAsync();

        var document = XDocument.Parse(JunitReport.Render(outcome).ToString());

        var suite = document.Root!.Element("testsuite")!;
        var cases = suite.Elements("testcase").ToArray();
        Assert.Equal(outcome.Findings.Count + 1, cases.Length);
        Assert.Equal(cases.Length, (int)suite.Attribute("failures")!);
        var victim = Assert.Single(cases, c => c.Attribute("classname")!.Value == "Shop.A" && c.Attribute("name")!.Value == "Victim");
        var failure = victim.Element("failure")!;
        Assert.Equal("test-order", failure.Attribute("type")!.Value);
        Assert.Contains(Polluter, failure.Attribute("message")!.Value, StringComparison.Ordinal);
        var finding = outcome.Findings.Single(f => f.Test == Victim);
        Assert.Contains("Reproduce: " + finding.Reproduce, failure.Value, StringComparison.Ordinal);
        Assert.Contains(finding.Evidence, failure.Value, StringComparison.Ordinal);
        var tricky = Assert.Single(cases, c => c.Attribute("name")!.Value == "<Tricky> & \"quoted\" | piped");
        Assert.Equal("row-order", tricky.Element("failure")!.Attribute("type")!.Value);
        var broken = Assert.Single(cases, c => c.Attribute("name")!.Value == "Broken");
        Assert.Equal("always-failing", broken.Element("failure")!.Attribute("type")!.Value);
    }

    [Fact]
    public async Task A_clean_hunt_is_one_passing_case_in_the_junit_report()
    {
        var runner = new SyntheticRunner().Add("Shop.A.One").Add("Shop.A.Two");
        var outcome = await new Hunter(runner, new HuntOptions(1, 1, [], "samples/Shop")).HuntAsync(TestContext.Current.CancellationToken);

        var suite = JunitReport.Render(outcome).Root!.Element("testsuite")!;

        var only = Assert.Single(suite.Elements("testcase"));
        Assert.Null(only.Element("failure"));
        Assert.Equal("0", suite.Attribute("failures")!.Value);
        Assert.Contains("no flaky tests among 2 tests", only.Attribute("name")!.Value, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Ns.Class.Method", "Ns.Class", "Method")]
    [InlineData("Ns.Outer+Inner.Method", "Ns.Outer+Inner", "Method")]
    [InlineData("Ns.Class.Theory(value: \"a.b\")", "Ns.Class", "Theory(value: \"a.b\")")]
    [InlineData("NoDots", JunitReport.SuiteName, "NoDots")]
    public void A_test_id_splits_into_class_and_method_at_the_last_dot_before_its_arguments(string test, string className, string name)
        => Assert.Equal((className, name), JunitReport.Split(test));

    [Fact]
    public async Task The_markdown_summary_has_a_row_per_finding_its_reproduce_command_in_a_code_block_and_the_seed()
    {
        var outcome = await HuntAsync();

        var markdown = MarkdownReport.Render(outcome);

        Assert.StartsWith("## deflake hunt: 2 flaky tests, 1 failing every run", markdown, StringComparison.Ordinal);
        Assert.Contains($"| `{Victim}` | test-order | polluter: {Polluter} |", markdown, StringComparison.Ordinal);
        // A pipe in a test name must not split the table row.
        Assert.Contains("| `Shop.C.<Tricky> & \"quoted\" \\| piped` | row-order |", markdown, StringComparison.Ordinal);
        Assert.Contains("```sh\n" + outcome.Findings.Single(f => f.Test == Victim).Reproduce + "\n```", markdown, StringComparison.Ordinal);
        Assert.Contains("seed **4242**", markdown, StringComparison.Ordinal);
        Assert.Contains("`Shop.D.Broken` failed in every run", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_markdown_summary_is_appended_to_an_existing_step_summary()
    {
        var outcome = await HuntAsync();
        var file = Path.Combine(Directory.CreateTempSubdirectory("deflake-md-").FullName, "summary.md");
        await File.WriteAllTextAsync(file, "# earlier step\n", TestContext.Current.CancellationToken);

        await MarkdownReport.WriteAsync(outcome, file, append: true, TestContext.Current.CancellationToken);

        var text = await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken);
        Assert.StartsWith("# earlier step\n## deflake hunt:", text, StringComparison.Ordinal);
        Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
    }

    [Fact]
    public async Task Annotations_are_one_line_each_escaped_and_point_at_the_test_when_its_source_is_known()
    {
        var outcome = await HuntAsync();
        var workspace = Path.Combine(Path.GetTempPath(), "repo");
        var locations = SourceLocations.None;

        var lines = GitHubAnnotations.Render(outcome, locations, workspace);

        Assert.Equal(outcome.Findings.Count + 1, lines.Count);
        Assert.All(lines, l => Assert.DoesNotContain('\n', l));
        var victim = Assert.Single(lines, l => l.Contains(Victim + ": test-order", StringComparison.Ordinal));
        Assert.StartsWith("::error title=Flaky test (test-order)::", victim, StringComparison.Ordinal);
        Assert.Contains("%0AReproduce: ", victim, StringComparison.Ordinal);
        Assert.Contains("::error title=Broken test (fails every run)::Shop.D.Broken", string.Join('\n', lines), StringComparison.Ordinal);
    }

    [Fact]
    public void Annotation_escaping_follows_the_workflow_command_rules()
    {
        Assert.Equal("100%25 sure%0D%0Anext: a,b", GitHubAnnotations.EscapeData("100% sure\r\nnext: a,b"));
        Assert.Equal("title%3A a%2C b%0A", GitHubAnnotations.EscapeProperty("title: a, b\n"));
    }

    [Fact]
    public void An_annotation_path_is_relative_to_the_workspace_when_inside_it()
    {
        var workspace = Path.Combine(Path.GetTempPath(), "repo");
        Assert.Equal("tests/A/ATests.cs", GitHubAnnotations.RelativeTo(workspace, Path.Combine(workspace, "tests", "A", "ATests.cs")));
        Assert.Equal("/elsewhere/B.cs", GitHubAnnotations.RelativeTo(workspace, "/elsewhere/B.cs"));
        Assert.Equal("/elsewhere/B.cs", GitHubAnnotations.RelativeTo(null, "/elsewhere/B.cs"));
    }

    [Fact]
    public void Source_locations_come_from_the_test_assemblys_pdb_for_plain_and_async_methods()
    {
        var locations = SourceLocations.Read(typeof(CiReportTests).Assembly.Location);

        var plain = locations.Find($"{typeof(Located).FullName}.{nameof(Located.Plain)}");
        var async = locations.Find($"{typeof(Located).FullName}.{nameof(Located.LaterAsync)}(seed: 3)");

        Assert.NotNull(plain);
        Assert.EndsWith("CiReportTests.cs", plain.File, StringComparison.Ordinal);
        Assert.Equal(Located.Plain(), plain.Line);
        Assert.NotNull(async);
        Assert.Equal(Located.AsyncBodyLine, async.Line);
        Assert.Null(locations.Find("No.Such.Test"));
        Assert.Null(SourceLocations.Read("/no/such/assembly.dll").Find($"{typeof(Located).FullName}.{nameof(Located.Plain)}"));
    }

    [Fact]
    public async Task Annotations_carry_file_and_line_when_the_test_is_found_in_the_pdb()
    {
        var runner = new SyntheticRunner().Add($"{typeof(Located).FullName}.{nameof(Located.Plain)}", (r, _) => r.Chaos == "rows").Add("Shop.A.Ok");
        var outcome = await new Hunter(runner, new HuntOptions(7, 1, ["rows"], "samples/Shop")).HuntAsync(TestContext.Current.CancellationToken);
        var source = SourceLocations.Read(typeof(CiReportTests).Assembly.Location);
        var file = source.Find($"{typeof(Located).FullName}.{nameof(Located.Plain)}")!.File;

        var line = Assert.Single(GitHubAnnotations.Render(outcome, source, Path.GetDirectoryName(Path.GetDirectoryName(file))));

        Assert.StartsWith($"::error file=Reporting/CiReportTests.cs,line={Located.Plain()},title=Flaky test (row-order)::", line, StringComparison.Ordinal);
    }

    /// <summary>Methods whose first line the tests know: the opening brace, one line above the line that reports itself.</summary>
    internal static class Located
    {
        internal static int AsyncBodyLine { get; } = LaterAsync(3).GetAwaiter().GetResult();

        internal static int Plain()
        {
            return Here() - 1;
        }

        internal static async Task<int> LaterAsync(int seed)
        {
            await Task.Yield();
            return Here() - 2 + (seed - seed);
        }

        private static int Here([CallerLineNumber] int line = 0) => line;
    }
}
