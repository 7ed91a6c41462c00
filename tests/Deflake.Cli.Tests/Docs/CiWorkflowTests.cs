using Deflake.Cli.Commands;
using Spectre.Console;
using YamlDotNet.RepresentationModel;

namespace Deflake.Cli.Tests.Docs;

/// <summary>The CI workflows of docs/ci.md parse, run a real hunt command line, and keep their reports.</summary>
public sealed class CiWorkflowTests
{
    private static YamlMappingNode Load(string file)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(Repository.Path(file)));
        stream.Load(reader);
        return (YamlMappingNode)Assert.Single(stream.Documents).RootNode;
    }

    private static YamlNode At(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            node = ((YamlMappingNode)node).Children[new YamlScalarNode(key)];
        }

        return node;
    }

    private static string Text(YamlNode node) => ((YamlScalarNode)node).Value!;

    /// <summary>The hunt command of a workflow step, parsed by deflake's own command line.</summary>
    private static (string[] Args, System.CommandLine.ParseResult Parse) ParseHunt(string line, IReadOnlyDictionary<string, string> variables)
    {
        var expanded = variables.Aggregate(line, (text, v) => text.Replace(v.Key, v.Value, StringComparison.Ordinal));
        var words = expanded.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => w.Trim('"')).ToList();
        var start = words.FindIndex(w => w.EndsWith("/deflake", StringComparison.Ordinal));
        Assert.True(start >= 0, $"no deflake command in: {line}");
        var args = words.Skip(start + 1).ToArray();
        var root = DeflakeApp.BuildRootCommand(new CommandContext(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) }), TextWriter.Null));
        return (args, root.Parse(args));
    }

    private static string OptionValue(string[] args, string option) => args[Array.IndexOf(args, option) + 1];

    [Fact]
    public void The_github_workflow_parses_installs_the_tool_hunts_with_junit_and_keeps_the_reports_whatever_the_outcome()
    {
        var workflow = Load("docs/ci/github-actions.yml");

        Assert.NotNull(At(workflow, "on", "schedule"));
        var steps = ((YamlSequenceNode)At(workflow, "jobs", "hunt", "steps")).Children.Cast<YamlMappingNode>().ToArray();
        string? Run(YamlMappingNode step) => step.Children.TryGetValue(new YamlScalarNode("run"), out var run) ? Text(run) : null;
        Assert.Contains(steps, s => Run(s)?.StartsWith("dotnet tool install --tool-path .tools Deflake.Cli", StringComparison.Ordinal) == true);
        var hunt = steps.Select(Run).Single(r => r?.Contains("deflake hunt", StringComparison.Ordinal) == true)!;
        var (args, parse) = ParseHunt(hunt, new Dictionary<string, string> { ["$PROJECT"] = "tests/MyApp.Tests", ["${{ github.run_number }}"] = "17" });
        Assert.Empty(parse.Errors);
        Assert.Equal("hunt", args[0]);
        var upload = steps.Single(s => s.Children.TryGetValue(new YamlScalarNode("uses"), out var uses) && Text(uses).StartsWith("actions/upload-artifact@", StringComparison.Ordinal));
        Assert.Equal("always()", Text(At(upload, "if")));
        var folder = Text(At(upload, "with", "path")).TrimEnd('/');
        Assert.All(new[] { "--json", "--html", "--junit" }, option => Assert.StartsWith(folder + "/", OptionValue(args, option), StringComparison.Ordinal));
        Assert.StartsWith("Host=localhost;", Text(At(workflow, "jobs", "hunt", "env", "DEFLAKE_POSTGRES")), StringComparison.Ordinal);
    }

    [Fact]
    public void The_gitlab_job_parses_hunts_with_junit_and_hands_that_file_to_gitlabs_test_report()
    {
        var job = At(Load("docs/ci/gitlab-ci.yml"), "deflake-hunt");

        var script = ((YamlSequenceNode)At(job, "script")).Children.Select(Text).ToArray();
        Assert.StartsWith("dotnet tool install --tool-path .tools Deflake.Cli", script[0], StringComparison.Ordinal);
        var (args, parse) = ParseHunt(script.Single(s => s.Contains("deflake hunt", StringComparison.Ordinal)),
            new Dictionary<string, string> { ["$PROJECT"] = "tests/MyApp.Tests", ["$CI_PIPELINE_IID"] = "17" });
        Assert.Empty(parse.Errors);
        Assert.Equal(OptionValue(args, "--junit"), Text(At(job, "artifacts", "reports", "junit")));
        Assert.Equal("always", Text(At(job, "artifacts", "when")));
    }

    [Theory]
    [InlineData("docs/ci/github-actions.yml")]
    [InlineData("docs/ci/gitlab-ci.yml")]
    public void Docs_ci_shows_each_workflow_file_as_it_is(string file)
    {
        var doc = File.ReadAllText(Repository.Path("docs/ci.md"));

        Assert.Contains("```yaml\n" + File.ReadAllText(Repository.Path(file)) + "```", doc, StringComparison.Ordinal);
    }
}
