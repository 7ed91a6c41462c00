using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Hunting;

/// <summary>
/// Diagnosis work shared between victims (issue 15, item 6), on a synthetic suite shaped like tests/Suites/PlantedSuite:
/// 45 tests, one planted flaky test of every class (identity alignment, row order, a victim with one polluter of its
/// class, a victim with two polluters of which one in another class, a brittle test and its state-setter, two tests
/// that collide in parallel, a test failing at random 30% of the time, culture, time zone) among correct ones.
/// </summary>
public sealed class SharedDiagnosisTests
{
    private const string Ns = "PlantedSuite.";
    internal const string IdMixUp = Ns + "AuditTests.The_audit_row_of_an_order_is_read_back_by_id";
    internal const string Unordered = Ns + "CustomerListTests.Customers_are_listed_in_sign_up_order";
    internal const string SignUp = Ns + "SharedDatabaseTests.A_customer_can_sign_up";
    internal const string NoCustomers = Ns + "SharedDatabaseTests.A_new_shop_has_no_customers";
    internal const string Posting = Ns + "LedgerTests.Posting_an_entry_writes_the_ledger";
    internal const string NoEntries = Ns + "LedgerTests.A_new_ledger_reports_no_entries";
    internal const string Refunding = Ns + "RefundLedgerTests.Refunding_writes_the_ledger";
    internal const string WarmUp = Ns + "CatalogWarmUpTests.Warming_the_catalog_succeeds";
    internal const string Warm = Ns + "CatalogCacheTests.The_catalog_cache_is_warm";
    internal const string Charge = Ns + "SandboxChargeTests.Charging_lowers_the_balance";
    internal const string Deposit = Ns + "SandboxDepositTests.Depositing_raises_the_balance";
    internal const string Lottery = Ns + "LotteryTests.The_lucky_draw_wins";
    internal const string Price = Ns + "PriceTextTests.A_price_is_parsed_from_text";
    internal const string Shift = Ns + "TimeStampTests.A_shift_starts_on_the_quarter_hour_it_was_booked";

    /// <summary>The planted suite: 45 tests; the random test draws from <paramref name="random"/>.</summary>
    internal static SyntheticRunner PlantedSuite(Random random)
    {
        var runner = new SyntheticRunner();
        string[] correct =
        [
            "ArithmeticTests.Two_and_two_make_four", "ArithmeticTests.Ten_halved_is_five", "ArithmeticTests.Seven_squared_is_forty_nine",
            "ArithmeticTests.Integer_division_truncates", "ArithmeticTests.Addition_adds",
            "TextTests.Upper_case_is_invariant", "TextTests.Trimming_removes_spaces", "TextTests.A_builder_appends_in_order",
            "TextTests.Splitting_a_comma_list_gives_its_parts", "TextTests.An_invariant_number_uses_a_dot", "TextTests.Ordinal_comparison_ignores_culture",
            "CollectionTests.A_sorted_list_is_ascending", "CollectionTests.A_set_holds_each_item_once", "CollectionTests.A_dictionary_finds_its_keys",
            "CollectionTests.Reversing_twice_gives_the_list_back", "CollectionTests.Sum_of_nothing_is_zero", "CollectionTests.Distinct_drops_repeats",
            "DateTests.A_leap_year_has_a_29th_of_February", "DateTests.A_week_has_seven_days", "DateTests.An_invariant_date_parses",
            "CartTests.A_new_cart_is_empty", "CartTests.Adding_twice_counts_two_items", "CartTests.Emptying_a_cart_removes_its_items",
            "CartTests.Checkout_totals_the_cart", "CartTests.An_order_is_read_back_with_its_lines", "CartTests.The_catalogue_lists_five_products",
            "AuditTests.Checkout_writes_one_audit_row", "CustomerListTests.Customers_are_listed_by_name", "SharedDatabaseTests.The_mug_costs_nine_euros",
            "PriceTextTests.A_price_is_parsed_from_invariant_text", "TimeStampTests.A_utc_stamp_round_trips",
        ];
        foreach (var test in correct)
        {
            runner.Add(Ns + test);
        }

        runner.Add(IdMixUp, (r, _) => r.Chaos == "identities")
            .Add(Unordered, (r, _) => r.Chaos == "rows")
            .Add(SignUp)
            .Add(NoCustomers, (_, before) => before.Contains(SignUp))
            .Add(Posting)
            .Add(NoEntries, (_, before) => before.Contains(Posting) || before.Contains(Refunding))
            .Add(Refunding)
            .Add(WarmUp)
            .Add(Warm, (_, before) => !before.Contains(WarmUp), "the catalog cache is cold: nothing warmed it")
            .Add(Charge, (r, running) => r.Parallel && running.Contains(Deposit), "Assert.Equal() Failure: Expected: 70 Actual: 90")
            .Add(Deposit, (r, running) => r.Parallel && running.Contains(Charge), "Assert.Equal() Failure: Expected: 120 Actual: 90")
            .Add(Lottery, (_, _) => random.NextDouble() < 0.3, "the draw lost")
            .Add(Price, (r, _) => r.Chaos == EnvironmentChaos.Culture)
            .Add(Shift, (r, _) => r.Chaos == EnvironmentChaos.TimeZone);
        return runner;
    }

    /// <summary>What the hunt must find: cause, and the polluters, partner or state-setter named.</summary>
    internal static readonly Dictionary<string, (string Cause, string[] Involved)> Planted = new(StringComparer.Ordinal)
    {
        [IdMixUp] = (FlakeCause.IdentityAlignment, []),
        [Unordered] = (FlakeCause.RowOrder, []),
        [NoCustomers] = (FlakeCause.TestOrder, [SignUp]),
        [NoEntries] = (FlakeCause.TestOrder, [Posting, Refunding]),
        [Warm] = (FlakeCause.TestOrder, [WarmUp]),
        [Charge] = (FlakeCause.ParallelCollision, [Deposit]),
        [Deposit] = (FlakeCause.ParallelCollision, [Charge]),
        [Price] = (FlakeCause.Culture, []),
        [Shift] = (FlakeCause.TimeZone, []),
        [Lottery] = (FlakeCause.Nondeterministic, []),
    };

    /// <summary>
    /// Every planted test is found as planted and no correct test is flagged, with two known gaps of docs/hunt.md: the
    /// random test may pass every survey run (missed) or, having passed every run without chaos, fail under a mode and
    /// get that mode's cause (never a polluter or partner); and a brittle test that never passed one at a time has no
    /// run to learn its state-setter from (then it is nondeterministic, with no polluter).
    /// </summary>
    internal static void AssertFoundAsPlanted(HuntOutcome outcome)
    {
        Assert.Empty(outcome.AlwaysFailing);
        var findings = outcome.Findings.ToDictionary(f => f.Test, StringComparer.Ordinal);
        Assert.True(findings.Keys.All(Planted.ContainsKey), $"flagged: {string.Join(", ", findings.Keys.Except(Planted.Keys))}");
        // The environment cases show only under their modes.
        var expected = Planted.Where(p => p.Key != Lottery && (p.Value.Cause is not (FlakeCause.Culture or FlakeCause.TimeZone) || outcome.Modes.Count > 2)).Select(p => p.Key);
        Assert.True(expected.All(findings.ContainsKey), $"missed: {string.Join(", ", expected.Except(findings.Keys))}");
        var passedOneAtATime = outcome.Runs.Any(r => !r.Request.Parallel && r.PassedTest(Warm));
        foreach (var (test, finding) in findings)
        {
            var (cause, involved) = Planted[test];
            Assert.True(finding.Polluters.Count == 0 || cause == FlakeCause.TestOrder, $"{test}: {finding.Evidence}");
            if ((test == Lottery && finding.Cause is FlakeCause.IdentityAlignment or FlakeCause.RowOrder or FlakeCause.Culture or FlakeCause.TimeZone)
                || (test == Warm && !passedOneAtATime && finding.Cause == FlakeCause.Nondeterministic))
            {
                continue;
            }

            Assert.True(cause == finding.Cause, $"{test}: {finding.Cause} {finding.Evidence}");
            var named = finding.Role == TestOrderRole.Brittle ? finding.StateSetters.Take(1)
                : cause == FlakeCause.ParallelCollision ? [finding.Polluter!]
                : finding.Polluters;
            Assert.True(involved.Order(StringComparer.Ordinal).SequenceEqual(named.Order(StringComparer.Ordinal)), $"{test}: {string.Join(", ", named)}: {finding.Evidence}");
        }
    }

    public static TheoryData<bool, int, int> Bounds => new()
    {
        // modes all, the most runs of one hunt, the most runs of the median hunt. Before (one victim at a time, every
        // confirmation run of its own, bisections searching every polluter of a list): median 52.5 (48–76) runs with the
        // default modes, 57 (52–77) with all four; with shared confirmations: 34 (31–43) and 38 (34–46); with exact
        // replays showing chance, runs alone made early, the search for more polluters observing other victims' runs
        // and starting from what the runs single out: 30 (28–39) and 34 (32–39), on these 20 seeds (the most: a hunt
        // whose random test failed three replays in a row by chance). The floor under the confirmation rules is 24 and
        // 28 (docs/hunt.md, "Why not ≤ 20 on this suite"). A chaos cause confirmed by 3 failures under its mode (the
        // survey's and two more with its seed) adds a run per environment mode (culture, timezone: 36 (34–41)); the
        // database modes' suspects ride along twice in runs made anyway (30 (28–39), unchanged).
        { false, 40, 31 },
        { true, 41, 36 },
    };

    [Theory]
    [MemberData(nameof(Bounds))]
    public async Task A_hunt_of_the_planted_suite_finds_every_class_in_far_fewer_runs_sharing_diagnosis_between_victims(bool allModes, int most, int median)
    {
        // The synthetic suite's randomness (the random test's draws) and the hunt's orders are seeded: the counts are fixed.
        IReadOnlyList<string> modes = allModes ? ["identities", "rows", EnvironmentChaos.Culture, EnvironmentChaos.TimeZone] : HuntOptions.DefaultModes;
        var counts = new List<int>();
        foreach (var seed in Enumerable.Range(1, 20))
        {
            var outcome = await new Hunter(PlantedSuite(new Random(seed)), new HuntOptions(seed, HuntOptions.DefaultRandomOrders, modes, "Planted")).HuntAsync(TestContext.Current.CancellationToken);

            AssertFoundAsPlanted(outcome);
            Assert.Equal(1 + modes.Count + 1 + HuntOptions.DefaultRandomOrders, outcome.SurveyRunCount);
            counts.Add(outcome.Runs.Count);
        }

        counts.Sort();
        Assert.True(counts[^1] <= most, $"runs per hunt: {string.Join(", ", counts)}");
        Assert.True((counts[9] + counts[10]) / 2.0 <= median, $"runs per hunt: {string.Join(", ", counts)}");
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public async Task The_search_for_a_second_polluter_waits_and_watches_the_other_victims_runs(int seed)
    {
        // The ledger victim is diagnosed first (it failed most): its second polluter, in another class, is searched for
        // after the other order cases, it having run last in their runs meanwhile, which cleared or singled out their tests.
        var outcome = await new Hunter(PlantedSuite(new Random(seed)), new HuntOptions(seed, HuntOptions.DefaultRandomOrders, HuntOptions.DefaultModes, "Planted")).HuntAsync(TestContext.Current.CancellationToken);

        AssertFoundAsPlanted(outcome);
        var ledger = Assert.Single(outcome.Findings, f => f.Test == NoEntries);
        Assert.Contains(ledger.Steps, s => s.StartsWith("other polluters: the search waited until the other order cases were diagnosed", StringComparison.Ordinal));
        // Watched: it ran last in runs made for other victims, with none of its polluters found before it.
        Assert.Contains(outcome.Runs, r => r.Request.Tests is { Count: > 1 } tests && tests[^1] == NoEntries
            && !r.Request.Name.StartsWith("confirm", StringComparison.Ordinal) && !r.RanBefore(NoEntries).Contains(Posting) && !r.RanBefore(NoEntries).Contains(Refunding));
        // Its confirmations still count only runs made after each polluter was named, right after it.
        Assert.Contains("passed alone 3 times", ledger.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_order_cases_confirm_in_shared_runs_each_alone_first_or_right_after_its_polluter()
    {
        var runner = new SyntheticRunner();
        foreach (var i in Enumerable.Range(0, 8))
        {
            runner.Add($"Other{i}.Tests.Ok");
        }

        runner.Add(SignUp).Add(NoCustomers, (_, before) => before.Contains(SignUp))
            .Add(Posting).Add(NoEntries, (_, before) => before.Contains(Posting));

        var outcome = await new Hunter(runner, new HuntOptions(3, HuntOptions.DefaultRandomOrders, [], "S")).HuntAsync(TestContext.Current.CancellationToken);

        Assert.Equal([SignUp], Assert.Single(outcome.Findings, f => f.Test == NoCustomers).Polluters);
        Assert.Equal([Posting], Assert.Single(outcome.Findings, f => f.Test == NoEntries).Polluters);
        // Runs made for both: each victim first (alone) or right after its polluter, with nothing uncleared before.
        var shared = outcome.Runs.Where(r => r.Request.Name == "confirm: 2 victims").ToArray();
        Assert.NotEmpty(shared);
        Assert.All(shared, run => Assert.All(new[] { (NoCustomers, SignUp), (NoEntries, Posting) }, pair =>
            Assert.True(run.RanBefore(pair.Item1) is var before && (before.Count == 0 || before[^1] == pair.Item2), string.Join(", ", run.Request.Tests!))));
        Assert.All(outcome.Findings, f => Assert.Contains(f.Steps, s => s.Contains("shared by 2 victims", StringComparison.Ordinal)));
        // Each still confirmed 3 times each way, as alone.
        Assert.All(outcome.Findings, f => Assert.Contains("passed alone 3 times", f.Evidence, StringComparison.Ordinal));
    }
}
