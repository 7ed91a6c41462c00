using Deflake.Frameworks;

namespace Deflake.MSTest.Tests;

/// <summary>Runs this assembly as a child `dotnet test` with an unreadable DEFLAKE_ORDER file.</summary>
[TestClass]
public sealed class OrderTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task An_order_file_that_cannot_be_read_fails_the_run_with_a_one_line_error()
    {
        var run = await SuiteSupport.RunChildAsync(typeof(OrderTests).Assembly.Location, "FullyQualifiedName~Deflake.MSTest.Tests.CurrentTests",
            new Dictionary<string, string>(StringComparer.Ordinal) { ["DEFLAKE_ORDER"] = "no-such-order-file.txt" }, TestContext.CancellationToken);

        Assert.AreNotEqual(0, run.ExitCode);
        Assert.IsTrue(run.Output.Split('\n').Any(l => l.Contains("DEFLAKE_ORDER: 'no-such-order-file.txt' is neither 'random' nor 'reverse' nor a readable file of test ids", StringComparison.Ordinal)), run.Output);
        Assert.IsFalse(run.Output.Contains("Passed!", StringComparison.Ordinal), run.Output);
    }
}
