using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Parsing;

public sealed class DatabaseActivityTests
{
    [Fact]
    public void A_process_that_reported_only_itself_used_no_database_and_checked_nothing()
    {
        var activity = DatabaseActivity.Parse(["process"])!;

        Assert.False(activity.RentedUnderChaos);
        Assert.Equal("no test used a Deflake database — nothing was checked", activity.NothingChecked);
    }

    [Fact]
    public void A_pool_under_chaos_that_rented_nothing_checked_nothing()
    {
        var activity = DatabaseActivity.Parse(["process", "pool\trows"])!;

        Assert.False(activity.RentedUnderChaos);
        Assert.Equal("a Deflake pool started, but no test rented a database from it — nothing was checked", activity.NothingChecked);
    }

    [Fact]
    public void A_rent_under_chaos_is_a_check_and_a_rent_without_chaos_is_not()
    {
        Assert.True(DatabaseActivity.Parse(["process", "pool\tnone", "pool\tidentities", "rent\tnone", "rent\tidentities"])!.RentedUnderChaos);
        Assert.False(DatabaseActivity.Parse(["process", "pool\tnone", "rent\tnone"])!.RentedUnderChaos);
    }

    [Fact]
    public void A_process_that_reported_nothing_is_unknown_not_unchecked()
    {
        Assert.Null(DatabaseActivity.Parse([]));
        var run = new RunResult(new RunRequest("chaos rows", RunOrderKind.Default, "rows", 1, Parallel: true), [], TimeSpan.Zero, "replay");
        Assert.Null(run.ChaosReached);
        Assert.False((run with { Activity = DatabaseActivity.Parse(["process"]) }).ChaosReached);
    }

    [Fact]
    public void The_keys_identities_did_not_cover_are_read_with_their_engine_and_reason_and_malformed_lines_skipped()
    {
        var activity = DatabaseActivity.Parse([
            "process", "pool\tidentities",
            "uncovered\tsqlite\ttags\tno counter: INTEGER PRIMARY KEY without AUTOINCREMENT",
            "uncovered\tmariadb\tflags.id\tits type stops at 127",
            "uncovered\tsqlite\t\tno key",
            "uncovered\tsqlite\tnotes",
            "rent\tidentities",
        ])!;

        Assert.Equal(
            [new UncoveredKey("sqlite", "tags", "no counter: INTEGER PRIMARY KEY without AUTOINCREMENT"), new UncoveredKey("mariadb", "flags.id", "its type stops at 127")],
            activity.NotCovered);
        Assert.Equal(["identities"], activity.Pools);
        Assert.True(activity.RentedUnderChaos);
        Assert.Empty(DatabaseActivity.Parse(["process", "pool\tidentities"])!.NotCovered);
    }

    [Fact]
    public void Keys_reported_by_several_runs_processes_and_pools_are_named_once_by_engine_and_key_in_order()
    {
        const string NoCounter = "no counter: INTEGER PRIMARY KEY without AUTOINCREMENT";
        // One run whose process had two pools (both report tags), another run reporting tags again and notes; the same
        // name on another engine is another key.
        RunResult Run(string name, params string[] lines)
            => new(new RunRequest(name, RunOrderKind.Default, "identities", 1, Parallel: true), [], TimeSpan.Zero, "replay") { Activity = DatabaseActivity.Parse(lines) };
        var runs = new[]
        {
            Run("chaos identities", "process", $"uncovered\tsqlite\ttags\t{NoCounter}", $"uncovered\tsqlite\ttags\t{NoCounter}", "uncovered\tpostgres\tpublic.tags.id\tits sequence stops at 32767"),
            Run("baseline", "process"),
            Run("alone under identities", "process", $"uncovered\tsqlite\tnotes\t{NoCounter}", $"uncovered\tsqlite\ttags\t{NoCounter}"),
            new RunResult(new RunRequest("reverse", RunOrderKind.Reverse, "none", 1, Parallel: false), [], TimeSpan.Zero, "replay"),
        };

        var notCovered = IdentityCoverage.NotCovered(runs);

        Assert.Equal(["postgres public.tags.id", "sqlite notes", "sqlite tags"], notCovered.Select(k => $"{k.Engine} {k.Key}"));
        Assert.Equal(
            [
                "chaos identities: 1 postgres table not covered (its sequence stops at 32767): public.tags.id — their ids count as without chaos; see docs/chaos.md.",
                $"chaos identities: 2 sqlite tables not covered ({NoCounter}): notes, tags — their ids count as without chaos; see docs/chaos.md.",
            ],
            IdentityCoverage.Sentences(notCovered));
        Assert.Empty(IdentityCoverage.NotCovered(runs.Skip(1).Take(1)));
        Assert.Empty(IdentityCoverage.Sentences([]));
    }
}
