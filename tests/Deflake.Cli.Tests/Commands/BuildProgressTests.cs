using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Commands;

/// <summary>A hunt's first build takes minutes on a fresh machine: deflake says what it builds as it goes (issue 17).</summary>
public sealed class BuildProgressTests
{
    [Fact]
    public async Task Building_the_suite_names_each_project_built_as_it_goes()
    {
        var lines = new List<string>();
        var project = await TestProject.PrepareAsync(Repository.Path("tests/Suites/NoDatabaseSuite"), line =>
        {
            lock (lines)
            {
                lines.Add(line);
            }
        }, TestContext.Current.CancellationToken);

        Assert.True(File.Exists(project.AssemblyPath));
        Assert.Contains(lines, l => l.StartsWith("building ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("built NoDatabaseSuite (", StringComparison.Ordinal));
    }
}
