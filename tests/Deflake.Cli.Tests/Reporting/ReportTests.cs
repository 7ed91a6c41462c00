using System.Text.Json;
using Deflake.Cli.Hunting;
using Deflake.Cli.Reporting;
using Deflake.Cli.Tests.Hunting;

namespace Deflake.Cli.Tests.Reporting;

public sealed class ReportTests
{
    private static async Task<HuntOutcome> HuntAsync()
    {
        var runner = new SyntheticRunner()
            .Add("Shop.A.Ok")
            .Add("Shop.A.Victim", (_, before) => before.Contains("Shop.B.Polluter"))
            .Add("Shop.B.Polluter")
            .Add("Shop.C.<Tricky> & \"quoted\"", (r, _) => r.Chaos == "rows");
        return await new Hunter(runner, new HuntOptions(4242, 2, ["identities", "rows"], "samples/Shop")).HuntAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task The_json_report_follows_the_contract()
    {
        var json = JsonReport.Serialize(await HuntAsync());

        var root = JsonDocument.Parse(json).RootElement;
        JsonContract.AssertValid(root);
        Assert.Equal(4242, root.GetProperty("seed").GetInt32());
        var victim = root.GetProperty("findings").EnumerateArray().Single(f => f.GetProperty("test").GetString() == "Shop.A.Victim");
        Assert.Equal("test-order", victim.GetProperty("cause").GetString());
        Assert.Equal("Shop.B.Polluter", victim.GetProperty("polluter").GetString());
        var rows = root.GetProperty("findings").EnumerateArray().Single(f => f.GetProperty("cause").GetString() == "row-order");
        Assert.Equal(JsonValueKind.Null, rows.GetProperty("polluter").ValueKind);
    }

    [Fact]
    public async Task The_html_report_is_one_self_contained_page_with_every_finding_escaped()
    {
        var outcome = await HuntAsync();

        var html = HtmlReport.Render(outcome);

        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script src", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Victim", html, StringComparison.Ordinal);
        Assert.Contains("&lt;Tricky&gt; &amp; &quot;quoted&quot;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<Tricky>", html, StringComparison.Ordinal);
        Assert.Contains("4242", html, StringComparison.Ordinal);
        Assert.All(outcome.Findings, f => Assert.Contains(System.Net.WebUtility.HtmlEncode(f.Reproduce), html, StringComparison.Ordinal));
    }
}

/// <summary>The report contract of ARCHITECTURE.md, checked field by field.</summary>
internal static class JsonContract
{
    public static void AssertValid(JsonElement root)
    {
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        Assert.Equal(JsonValueKind.Number, root.GetProperty("seed").ValueKind);
        var runs = root.GetProperty("runs");
        Assert.Equal(JsonValueKind.Array, runs.ValueKind);
        Assert.NotEmpty(runs.EnumerateArray());
        foreach (var run in runs.EnumerateArray())
        {
            Assert.Equal(JsonValueKind.String, run.GetProperty("mode").ValueKind);
            Assert.Equal(JsonValueKind.Number, run.GetProperty("seed").ValueKind);
            Assert.True(run.GetProperty("passed").GetInt32() >= 0);
            Assert.True(run.GetProperty("failed").GetInt32() >= 0);
            Assert.True(run.GetProperty("duration").GetDouble() >= 0);
        }

        foreach (var finding in root.GetProperty("findings").EnumerateArray())
        {
            Assert.False(string.IsNullOrWhiteSpace(finding.GetProperty("test").GetString()));
            Assert.Contains(finding.GetProperty("cause").GetString(), FlakeCause.All);
            Assert.True(finding.GetProperty("polluter").ValueKind is JsonValueKind.String or JsonValueKind.Null);
            Assert.False(string.IsNullOrWhiteSpace(finding.GetProperty("evidence").GetString()));
            Assert.False(string.IsNullOrWhiteSpace(finding.GetProperty("reproduce").GetString()));
        }
    }
}
