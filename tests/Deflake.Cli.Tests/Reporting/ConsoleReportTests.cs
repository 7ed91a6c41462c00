using Deflake.Cli.Hunting;
using Deflake.Cli.Reporting;
using Deflake.Cli.Running;
using Spectre.Console;

namespace Deflake.Cli.Tests.Reporting;

public sealed class ConsoleReportTests
{
    private const string Ns = "Shop.Tests.";
    private const string Victim = Ns + "SharedDatabaseTests.A_new_shop_has_no_customers_even_after_a_long_day_of_work";
    private const string PolluterA = Ns + "SharedDatabaseTests.A_customer_can_sign_up_with_a_rather_long_name";
    // Longer than a 100-column line: it must stand whole on its own line.
    private const string PolluterB = Ns + "RefundLedgerTests.Refunding_writes_the_ledger_and_leaves_an_entry_behind_for_the_next_test_to_find_and_trip_over";
    private const string RacerA = Ns + "SandboxChargeTests.Charging_lowers_the_balance_of_the_shared_account";
    private const string RacerB = Ns + "SandboxDepositTests.Depositing_raises_the_balance_of_the_shared_account";
    private const string Brittle = Ns + "CatalogCacheTests.The_catalog_cache_is_warm_when_the_first_page_loads";
    private const string Setter = Ns + "CatalogWarmUpTests.Warming_the_catalog_succeeds_for_every_locale";
    private const string Random = Ns + "LotteryTests.The_lucky_draw_wins";
    private const string Prices = Ns + "PriceTextTests.A_price_is_parsed_from_text";

    private static readonly string Reproduce = "printf '%s\\n' " + PolluterA + " " + Victim + " > deflake-order.txt && DEFLAKE_SEED=11 DEFLAKE_ORDER=\"$PWD/deflake-order.txt\" dotnet /abs/Suite.dll :11 -parallel none -method " + PolluterA + " -method " + Victim;

    private static Finding[] Findings() =>
    [
        new(Victim, FlakeCause.TestOrder, PolluterA, "Passes alone; fails after the 20 tests that ran before it in 'reverse'; bisection names " + PolluterA + ", and independently " + PolluterB + ". Over this hunt's runs it passed alone 3 times ...", Reproduce, [])
        {
            OtherPolluters = [PolluterB], Role = TestOrderRole.Polluted, Message = "Assert.Equal() Failure: Values differ\nExpected: 0\nActual:   1",
        },
        new(RacerA, FlakeCause.ParallelCollision, RacerB, "Fails when collections run in parallel (baseline); run in parallel with " + RacerB + " alone, it fails.", "replay collision", []),
        new(Brittle, FlakeCause.TestOrder, null, "Brittle: fails alone, but passed after the 17 tests ...", "replay brittle", []) { Role = TestOrderRole.Brittle, StateSetters = [Setter] },
        new(Random, FlakeCause.Nondeterministic, null, "Failed in random #2 but did not fail again ... It failed 3 of 9 runs without chaos.", "replay random", []),
        new(Prices, FlakeCause.Culture, null, "Passed with nothing changed in all 7 runs without chaos. Alone under culture pt-BR (LC_ALL=pt_BR.UTF-8 ...) it fails.", "replay culture", []),
    ];

    private static HuntOutcome Outcome() => new(11, "Suite", ["rows", "culture"], 45, [], 0, Findings(), [], DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(40));

    private static (IAnsiConsole Console, StringWriter Output) Console(int width)
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = width;
        return (console, output);
    }

    private static string[] Summary(int width = 100)
    {
        var (console, output) = Console(width);
        ConsoleReport.WriteSummary(console, Outcome());
        return output.ToString().Replace("\r", string.Empty, StringComparison.Ordinal).Split('\n');
    }

    [Fact]
    public void At_100_columns_every_line_fits_but_the_reproduce_command_and_no_test_id_is_cut()
    {
        var lines = Summary();

        Assert.True(PolluterB.Length > 100);
        Assert.All(lines.Where(l => !l.StartsWith("  reproduce: ", StringComparison.Ordinal) && !l.EndsWith(PolluterB, StringComparison.Ordinal)),
            l => Assert.True(l.Length <= 100, $"{l.Length}: {l}"));
        Assert.Contains("             " + PolluterB, lines);
        foreach (var test in new[] { Victim, PolluterA, PolluterB, RacerA, RacerB, Brittle, Setter, Random, Prices })
        {
            Assert.Contains(lines, l => l.Contains(test, StringComparison.Ordinal));
        }

        // The command is one line, as it must be pasted.
        Assert.Contains("  reproduce: " + Reproduce, lines);
    }

    [Fact]
    public void A_collision_names_its_partner_as_a_partner_and_polluters_and_state_setters_by_their_role()
    {
        var text = string.Join('\n', Summary());

        Assert.Contains("  partner: " + RacerB + "\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("polluter: " + RacerB, text, StringComparison.Ordinal);
        Assert.Contains("  polluters: " + PolluterA + "\n             " + PolluterB + "\n", text, StringComparison.Ordinal);
        Assert.Contains("  state-setter: " + Setter + "\n", text, StringComparison.Ordinal);
        Assert.Contains("  cause: test-order (brittle)\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_finding_has_the_advice_line_the_html_has_and_a_short_evidence_sentence_in_order_of_events()
    {
        var lines = Summary();
        var text = string.Join('\n', lines);

        foreach (var finding in Findings())
        {
            // The advice, wrapped at spaces: its words in order once its lines are joined.
            var at = Array.IndexOf(lines, finding.Test);
            var advice = string.Join(' ', lines.Skip(at).SkipWhile(l => !l.StartsWith("  advice: ", StringComparison.Ordinal))
                .TakeWhile(l => !l.StartsWith("  reproduce: ", StringComparison.Ordinal)).Select(l => l.Trim()))["advice: ".Length..];
            Assert.Equal(FlakeCause.Advice(finding.Cause), advice);
        }

        Assert.Contains("  evidence: Passed alone; failed after each of its 2 polluters; each seen 3 times.\n", text, StringComparison.Ordinal);
        Assert.Contains("  evidence: Failed alone; passed after its state-setter; each seen 3 times.\n", text, StringComparison.Ordinal);
        Assert.Contains("  evidence: Passed one at a time; failed when run in parallel with its partner.\n", text, StringComparison.Ordinal);
        Assert.Contains("  evidence: Failed with nothing changed; it failed 3 of 9 runs without chaos.\n", text, StringComparison.Ordinal);
        Assert.Contains("  evidence: Passed without chaos; failed under culture " + EnvironmentChaos.CultureFor(11) + " 3 times with one seed.\n", text, StringComparison.Ordinal);
        // Only the failure's first line.
        Assert.Contains("  failure: Assert.Equal() Failure: Values differ\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Expected: 0", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(40)]
    [InlineData(60)]
    [InlineData(100)]
    public void Wrapping_breaks_at_spaces_and_keeps_a_word_longer_than_the_line_whole(int width)
    {
        var text = "Passed alone; failed after " + PolluterA + " and " + PolluterB + " in 'reverse'.";

        var lines = ConsoleText.Wrap(text, width, "  evidence: ");

        Assert.Equal(text, string.Join(' ', lines.Select(l => l.Trim()))["evidence: ".Length..]);
        Assert.All(lines, l => Assert.True(l.Length <= width || !l.Trim().Contains(' ', StringComparison.Ordinal), $"{l.Length}: {l}"));
        Assert.All(lines.Skip(1), l => Assert.StartsWith(new string(' ', "  evidence: ".Length), l, StringComparison.Ordinal));
    }

    [Fact]
    public void The_progress_line_of_a_finding_fits_and_says_partner_for_a_collision()
    {
        var (console, output) = Console(100);
        var progress = new ConsoleProgress(console);

        progress.Found(Findings()[1]);
        progress.Found(Findings()[0]);

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines.Where(l => !l.Contains(PolluterB, StringComparison.Ordinal)), l => Assert.True(l.TrimEnd('\r').Length <= 100, l));
        Assert.Contains("with partner", string.Join(' ', lines), StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Contains(PolluterB, StringComparison.Ordinal));
    }

    private const string NoCounter = "no counter: INTEGER PRIMARY KEY without AUTOINCREMENT";

    /// <summary>A clean hunt under identities whose two runs under it each report what their pools could not cover.</summary>
    internal static HuntOutcome UncoveredOutcome()
    {
        RunResult Run(string name, string chaos, params string[] lines)
            => new(new RunRequest(name, RunOrderKind.Default, chaos, 3, Parallel: true), [new TestOutcome("Suite.T.Ok", true, null, null)], TimeSpan.FromSeconds(1), "replay")
            {
                Activity = DatabaseActivity.Parse(lines),
            };
        RunResult[] runs =
        [
            Run("baseline", "none", "process", "pool\tnone", "rent\tnone"),
            Run("chaos identities", "identities", "process", "pool\tidentities", $"uncovered\tsqlite\tplain_notes\t{NoCounter}", $"uncovered\tsqlite\ttags\t{NoCounter}", "rent\tidentities"),
            Run("chaos identities again", "identities", "process", "pool\tidentities", $"uncovered\tsqlite\ttags\t{NoCounter}", "rent\tidentities"),
        ];
        return new(3, "Suite", ["identities"], 1, runs, 2, [], [], DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void The_tables_identities_did_not_cover_are_named_once_under_the_summary_and_counted_on_the_chaos_runs_line()
    {
        var outcome = UncoveredOutcome();
        var (console, output) = Console(100);
        var progress = new ConsoleProgress(console);
        foreach (var run in outcome.Runs.Take(2))
        {
            progress.RunFinished(run, survey: true);
        }

        ConsoleReport.WriteSummary(console, outcome);

        var text = output.ToString().Replace("\r", string.Empty, StringComparison.Ordinal);
        var lines = text.Split('\n');
        Assert.Contains("2 tables not covered (named at the end)", Assert.Single(lines, l => l.Contains("chaos identities ", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.DoesNotContain("not covered", Assert.Single(lines, l => l.Contains("baseline ", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("Chaos modes checked: identities.", lines);
        // Once, though two runs reported tags; wrapped at 100 columns at spaces, so read it joined.
        var summary = string.Join(' ', lines.SkipWhile(l => !l.StartsWith("Chaos modes checked", StringComparison.Ordinal)).Skip(1).Select(l => l.Trim()));
        Assert.Equal($"chaos identities: 2 sqlite tables not covered ({NoCounter}): plain_notes, tags — their ids count as without chaos; see docs/chaos.md.", summary.Trim());
        Assert.All(lines, l => Assert.True(l.Length <= 100, $"{l.Length}: {l}"));
    }

    [Fact]
    public void A_hunt_whose_identities_covered_everything_says_nothing_of_it()
    {
        var lines = Summary();

        Assert.DoesNotContain(lines, l => l.Contains("not covered", StringComparison.Ordinal));
    }
}
