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
        // Nothing reported not covered (synthetic runs report no activity): the field is there, empty.
        Assert.Empty(root.GetProperty("identitiesNotCovered").EnumerateArray());
    }

    [Fact]
    public void The_json_html_and_markdown_reports_name_each_table_identities_did_not_cover_once()
    {
        var outcome = ConsoleReportTests.UncoveredOutcome();

        var root = JsonDocument.Parse(JsonReport.Serialize(outcome)).RootElement;
        var html = HtmlReport.Render(outcome);
        var markdown = MarkdownReport.Render(outcome);

        JsonContract.AssertValid(root);
        Assert.Equal(
            ["sqlite|plain_notes|no counter: INTEGER PRIMARY KEY without AUTOINCREMENT", "sqlite|tags|no counter: INTEGER PRIMARY KEY without AUTOINCREMENT"],
            root.GetProperty("identitiesNotCovered").EnumerateArray().Select(k => $"{k.GetProperty("engine").GetString()}|{k.GetProperty("key").GetString()}|{k.GetProperty("reason").GetString()}"));
        // The older fields stay.
        Assert.Equal(["identities"], root.GetProperty("checkedModes").EnumerateArray().Select(m => m.GetString()));
        Assert.Contains("<h2>Not covered by identities</h2>", html, StringComparison.Ordinal);
        Assert.Contains("<td><code>plain_notes</code></td>", html, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(html, "<code>tags</code>"));
        Assert.Contains("chaos identities: 2 sqlite tables not covered (no counter: INTEGER PRIMARY KEY without AUTOINCREMENT): plain_notes, tags", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_json_report_names_every_polluter_and_a_brittle_tests_state_setter_keeping_the_old_fields()
    {
        var runner = new SyntheticRunner();
        foreach (var i in Enumerable.Range(0, 10))
        {
            runner.Add($"Shop.Other{i:D2}.Ok");
        }

        runner.Add("Shop.Orders.Leaves_an_order").Add("Shop.Refunds.Leaves_a_refund").Add("Shop.Seed.Seeds_the_catalog")
            .Add("Shop.Reports.Expects_nothing", (_, before) => before.Contains("Shop.Orders.Leaves_an_order") || before.Contains("Shop.Refunds.Leaves_a_refund"))
            .Add("Shop.Catalog.Lists_seeded_products", (_, before) => !before.Contains("Shop.Seed.Seeds_the_catalog"));
        var outcome = await new Hunter(runner, new HuntOptions(4, HuntOptions.DefaultRandomOrders, [], "samples/Shop")).HuntAsync(TestContext.Current.CancellationToken);

        var root = JsonDocument.Parse(JsonReport.Serialize(outcome)).RootElement;

        JsonContract.AssertValid(root);
        var findings = root.GetProperty("findings").EnumerateArray().ToDictionary(f => f.GetProperty("test").GetString()!);
        var polluted = findings["Shop.Reports.Expects_nothing"];
        Assert.Equal("polluted", polluted.GetProperty("role").GetString());
        Assert.Single(polluted.GetProperty("otherPolluters").EnumerateArray());
        Assert.Equal(["Shop.Orders.Leaves_an_order", "Shop.Refunds.Leaves_a_refund"], polluted.GetProperty("polluters").EnumerateArray().Select(p => p.GetString()).Order(StringComparer.Ordinal));
        var brittle = findings["Shop.Catalog.Lists_seeded_products"];
        Assert.Equal(("test-order", "brittle", "Shop.Seed.Seeds_the_catalog"), (brittle.GetProperty("cause").GetString(), brittle.GetProperty("role").GetString(), brittle.GetProperty("stateSetter").GetString()));
        Assert.Equal(JsonValueKind.Null, brittle.GetProperty("polluter").ValueKind);
        Assert.Contains("Shop.Seed.Seeds_the_catalog", HtmlReport.Render(outcome), StringComparison.Ordinal);
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

        foreach (var key in root.GetProperty("identitiesNotCovered").EnumerateArray())
        {
            Assert.False(string.IsNullOrWhiteSpace(key.GetProperty("engine").GetString()));
            Assert.False(string.IsNullOrWhiteSpace(key.GetProperty("key").GetString()));
            Assert.False(string.IsNullOrWhiteSpace(key.GetProperty("reason").GetString()));
        }

        foreach (var finding in root.GetProperty("findings").EnumerateArray())
        {
            Assert.False(string.IsNullOrWhiteSpace(finding.GetProperty("test").GetString()));
            Assert.Contains(finding.GetProperty("cause").GetString(), FlakeCause.All);
            Assert.True(finding.GetProperty("polluter").ValueKind is JsonValueKind.String or JsonValueKind.Null);
            Assert.False(string.IsNullOrWhiteSpace(finding.GetProperty("evidence").GetString()));
            Assert.False(string.IsNullOrWhiteSpace(finding.GetProperty("reproduce").GetString()));
            // Issue 15's additions: every polluter (the first is `polluter`), and a brittle test's state-setter.
            var role = finding.GetProperty("role");
            var polluters = finding.GetProperty("polluters").EnumerateArray().Select(p => p.GetString()).ToArray();
            Assert.True(role.ValueKind == JsonValueKind.Null ? finding.GetProperty("cause").GetString() != "test-order" : role.GetString() is "polluted" or "brittle");
            Assert.Equal(role.ValueKind == JsonValueKind.String && role.GetString() == "polluted" ? [finding.GetProperty("polluter").GetString()] : [], polluters.Take(1));
            Assert.Equal(role.ValueKind == JsonValueKind.String && role.GetString() == "brittle", finding.GetProperty("stateSetter").ValueKind == JsonValueKind.String);
            Assert.True(finding.GetProperty("stateSetters").GetArrayLength() >= 0);
        }
    }
}
