using System.Globalization;
using System.Net;
using System.Text;
using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

namespace Deflake.Cli.Reporting;

/// <summary>A self-contained HTML page of a hunt: findings first, each with its cause, polluter and replay command.</summary>
internal static class HtmlReport
{
    /// <summary>Renders the page.</summary>
    public static string Render(HuntOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var html = new StringBuilder();
        var flaky = outcome.Findings.Count;
        var verdict = flaky == 0 && outcome.AlwaysFailing.Count == 0
            ? "No flaky tests found"
            : Invariant($"{flaky} flaky test{(flaky == 1 ? string.Empty : "s")} found");
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append("<title>deflake hunt: ").Append(E(outcome.Project)).Append("</title><style>").Append(Css).Append("</style></head><body><main>");
        html.Append("<header><h1>deflake hunt <span class=\"project\">").Append(E(outcome.Project)).Append("</span></h1>")
            .Append("<p class=\"verdict ").Append(flaky == 0 ? "clean" : "dirty").Append("\">").Append(E(verdict)).Append("</p>")
            .Append("<dl class=\"facts\">")
            .Append(Fact("seed", outcome.Seed.ToString(CultureInfo.InvariantCulture)))
            .Append(Fact("tests", outcome.TestCount.ToString(CultureInfo.InvariantCulture)))
            .Append(Fact("runs", ConsoleReport.RunCounts(outcome)))
            .Append(Fact("chaos modes", outcome.Modes.Count == 0 ? "none" : string.Join(", ", outcome.Modes)))
            .Append(Fact("took", Invariant($"{outcome.Duration.TotalSeconds:0.0} s")))
            .Append(Fact("started", outcome.Started.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)))
            .Append("</dl></header>");

        if (flaky > 0)
        {
            html.Append("<section><h2>Findings</h2>");
            foreach (var finding in outcome.Findings.OrderBy(f => IndexOf(f.Cause)).ThenBy(f => f.Test, StringComparer.Ordinal))
            {
                var (ns, name) = SplitId(finding.Test);
                html.Append("<article class=\"finding\"><div class=\"head\"><span class=\"cause c-").Append(E(finding.Cause)).Append("\">").Append(E(finding.Cause)).Append("</span>")
                    .Append("<h3><span class=\"ns\">").Append(E(ns)).Append("</span>").Append(E(name)).Append("</h3></div>");
                if (finding.StateSetter is not null)
                {
                    html.Append("<p class=\"polluter\">brittle: fails alone, passes after <code>").Append(E(finding.StateSetter)).Append("</code>");
                    foreach (var other in finding.StateSetters.Skip(1))
                    {
                        html.Append(" or after <code>").Append(E(other)).Append("</code>");
                    }

                    html.Append("</p>");
                }

                if (finding.Polluter is not null)
                {
                    var relation = finding.Cause == FlakeCause.ParallelCollision ? "collides with" : "polluted by";
                    html.Append("<p class=\"polluter\">").Append(relation).Append(" <code>").Append(E(finding.Polluter)).Append("</code>");
                    foreach (var other in finding.OtherPolluters)
                    {
                        html.Append(" and independently by <code>").Append(E(other)).Append("</code>");
                    }

                    html.Append("</p>");
                }

                html.Append("<p class=\"advice\">").Append(E(FlakeCause.Advice(finding.Cause))).Append("</p>")
                    .Append("<p class=\"evidence\">").Append(E(finding.Evidence)).Append("</p>");
                if (finding.Message is not null)
                {
                    html.Append("<pre class=\"message\">").Append(E(finding.Message)).Append("</pre>");
                }

                html.Append("<div class=\"repro\"><div class=\"label\">reproduce</div><pre><code>").Append(E(finding.Reproduce)).Append("</code></pre></div>");
                if (finding.Steps.Count > 0)
                {
                    html.Append("<details><summary>").Append(finding.Steps.Count.ToString(CultureInfo.InvariantCulture)).Append(" diagnosis steps</summary><ol>");
                    foreach (var step in finding.Steps)
                    {
                        html.Append("<li>").Append(E(step)).Append("</li>");
                    }

                    html.Append("</ol></details>");
                }

                html.Append("</article>");
            }

            html.Append("</section>");
        }

        if (outcome.AlwaysFailing.Count > 0)
        {
            html.Append("<section><h2>Failing every time</h2><p>Not flaky: these fail alone too, every time.</p><ul>");
            foreach (var test in outcome.AlwaysFailing)
            {
                html.Append("<li><code>").Append(E(test)).Append("</code></li>");
            }

            html.Append("</ul></section>");
        }

        if (IdentityCoverage.NotCovered(outcome.Runs) is { Count: > 0 } notCovered)
        {
            // What identities chaos checked less than its mode suggests: these keys count as without chaos.
            html.Append("<section><h2>Not covered by identities</h2><p>identities chaos could not give these ")
                .Append(E(IdentityCoverage.Tables(notCovered.Count))).Append(" a range of their own: their ids count as without chaos (see docs/chaos.md).</p>")
                .Append("<table><thead><tr><th>engine</th><th>table</th><th>why</th></tr></thead><tbody>");
            foreach (var key in notCovered)
            {
                html.Append("<tr><td>").Append(E(key.Engine)).Append("</td><td><code>").Append(E(key.Key)).Append("</code></td><td>").Append(E(key.Reason)).Append("</td></tr>");
            }

            html.Append("</tbody></table></section>");
        }

        html.Append("<section><h2>Runs</h2><table><thead><tr><th>run</th><th>chaos</th><th>order</th><th>parallel</th><th>seed</th><th class=\"n\">passed</th><th class=\"n\">failed</th><th class=\"n\">time</th></tr></thead><tbody>");
        for (var i = 0; i < outcome.Runs.Count; i++)
        {
            var run = outcome.Runs[i];
            if (i == outcome.SurveyRunCount)
            {
                html.Append("<tr class=\"sep\"><td colspan=\"8\">diagnosis</td></tr>");
            }

            html.Append("<tr").Append(run.Failed > 0 ? " class=\"failed\"" : string.Empty).Append("><td>").Append(E(run.Request.Name)).Append("</td><td>")
                .Append(E(run.Request.Chaos)).Append("</td><td>").Append(E(run.Request.OrderName)).Append("</td><td>").Append(run.Request.Parallel ? "yes" : "no")
                .Append("</td><td>").Append(run.Request.Seed.ToString(CultureInfo.InvariantCulture)).Append("</td><td class=\"n\">").Append(run.Passed.ToString(CultureInfo.InvariantCulture))
                .Append("</td><td class=\"n\">").Append(run.Failed.ToString(CultureInfo.InvariantCulture)).Append("</td><td class=\"n\">")
                .Append(Invariant($"{run.Duration.TotalSeconds:0.00} s")).Append("</td></tr>");
        }

        html.Append("</tbody></table></section>");
        html.Append("<footer>Replay the whole hunt with <code>deflake hunt --seed ").Append(outcome.Seed.ToString(CultureInfo.InvariantCulture))
            .Append("</code>. Causes: ").Append(string.Join(" · ", FlakeCause.All.Select(E))).Append(".</footer>");
        html.Append("</main></body></html>\n");
        return html.ToString();
    }

    /// <summary>Writes the page.</summary>
    public static async Task WriteAsync(HuntOutcome outcome, string path, CancellationToken cancellationToken = default)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        await File.WriteAllTextAsync(path, Render(outcome), cancellationToken).ConfigureAwait(false);
    }

    private static int IndexOf(string cause)
    {
        for (var i = 0; i < FlakeCause.All.Count; i++)
        {
            if (FlakeCause.All[i] == cause)
            {
                return i;
            }
        }

        return FlakeCause.All.Count;
    }

    private static (string Namespace, string Name) SplitId(string id)
    {
        var dot = id.LastIndexOf('.');
        var classDot = dot > 0 ? id.LastIndexOf('.', dot - 1) : -1;
        return classDot > 0 ? (id[..(classDot + 1)], id[(classDot + 1)..]) : (string.Empty, id);
    }

    private static string Fact(string name, string value) => $"<div><dt>{E(name)}</dt><dd>{E(value)}</dd></div>";

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private const string Css = """
        :root{--fg:#1d2330;--muted:#5d6677;--line:#e3e6ec;--bg:#f6f7f9;--card:#fff;--red:#c0392b;--green:#1e8449}
        *{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
        main{max-width:1100px;margin:0 auto;padding:28px 24px 40px}
        h1{margin:0;font-size:26px}h1 .project{color:var(--muted);font-weight:400}
        h2{font-size:18px;margin:28px 0 12px}
        .verdict{font-size:20px;font-weight:600;margin:6px 0 14px}.verdict.clean{color:var(--green)}.verdict.dirty{color:var(--red)}
        .facts{display:flex;flex-wrap:wrap;gap:8px;margin:0}.facts div{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:6px 12px}
        dt{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}dd{margin:0;font-weight:600}
        .finding{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin-bottom:14px}
        .head{display:flex;align-items:center;gap:12px;flex-wrap:wrap}.head h3{margin:0;font-size:16px;word-break:break-all}.ns{color:var(--muted);font-weight:400}
        .cause{font-size:12px;font-weight:700;border-radius:999px;padding:2px 10px;color:#fff;white-space:nowrap}
        .c-identity-alignment{background:#8e44ad}.c-row-order{background:#2471a3}.c-test-order{background:#d35400}.c-parallel-collision{background:#b03a2e}.c-nondeterministic{background:#566573}
        .polluter{margin:10px 0 0}.advice{margin:8px 0 0;color:var(--muted)}.evidence{margin:8px 0 0}
        code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
        pre{margin:0;white-space:pre-wrap;word-break:break-all}
        .message{margin-top:8px;background:#fdf2f2;border-left:3px solid var(--red);padding:6px 10px;font-size:13px}
        .repro{margin-top:10px;background:#1d2330;color:#e8ecf3;border-radius:8px;padding:8px 12px}.repro .label{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#9aa5b8}
        details{margin-top:8px;color:var(--muted)}summary{cursor:pointer}
        table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}
        th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);font-size:14px}th{background:#eef0f4;font-size:12px;text-transform:uppercase;color:var(--muted)}
        td.n,th.n{text-align:right}tr.failed td{color:var(--red)}tr.sep td{background:#f0f2f5;color:var(--muted);font-size:12px;text-transform:uppercase}
        footer{margin-top:24px;color:var(--muted);font-size:13px}
        """;
}
