using Deflake.Coordination;

namespace Deflake.Tests.Coordination;

public sealed class CollectionPolicyTests
{
    private const string Me = "me00000000";
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly OrphanRules Rules = new(Now, TimeSpan.FromDays(1), TimeSpan.FromDays(7), Me);

    [Fact]
    public async Task A_clone_whose_owner_is_gone_is_removed_and_one_whose_owner_lives_is_kept()
    {
        var engine = new FakeEngine { GoneOwners = { "dead" } };

        var removed = await Collect(engine, Clone("deflake_a", "dead"), Clone("deflake_b", "alive"));

        Assert.Equal(1, removed);
        Assert.Equal(["deflake_a"], engine.RemovedNames);
    }

    [Fact]
    public async Task Own_clones_and_clones_owned_by_no_one_are_never_orphans_and_their_owner_is_never_asked()
    {
        var engine = new FakeEngine { GoneOwners = { Me } };

        var removed = await Collect(engine, Clone("deflake_mine", Me), Clone("deflake_nobodys", null));

        Assert.Equal(0, removed);
        Assert.Empty(engine.OwnerQuestions);
    }

    [Fact]
    public async Task Each_owner_is_asked_once_per_collection_however_many_clones_it_left()
    {
        var engine = new FakeEngine { GoneOwners = { "dead" } };

        var removed = await Collect(engine, Clone("deflake_1", "dead"), Clone("deflake_2", "alive"), Clone("deflake_3", "dead"), Clone("deflake_4", "alive"));

        Assert.Equal(2, removed);
        Assert.Equal(["dead", "alive"], engine.OwnerQuestions);
    }

    [Fact]
    public async Task The_log_names_the_dead_owners_pid_and_machine_when_recorded_and_its_token_otherwise()
    {
        var engine = new FakeEngine { GoneOwners = { "dead" } };

        await Collect(engine, Clone("deflake_a", "dead") with { ProcessId = 42, Machine = "box" }, Clone("deflake_b", "dead"));

        Assert.Equal(["owner pid 42 on box is gone", "its owner dead is gone"], engine.Removed.Select(r => r.Why));
    }

    [Fact]
    public async Task A_kept_database_goes_once_older_than_the_retention_counted_from_when_it_was_kept_not_from_its_creation()
    {
        var engine = new FakeEngine();
        var createdLongAgo = Now - TimeSpan.FromDays(30);

        var removed = await Collect(engine,
            Kept("deflake_kept_today", createdLongAgo, keptAt: Now - TimeSpan.FromHours(23)),
            Kept("deflake_kept_two_days_ago", createdLongAgo, keptAt: Now - TimeSpan.FromDays(2)),
            Kept("deflake_kept_at_unknown", createdLongAgo, keptAt: null));

        Assert.Equal(1, removed);
        Assert.Equal([("deflake_kept_two_days_ago", CollectionPolicy.KeptTooLong)], engine.Removed);
    }

    [Fact]
    public void A_kept_database_exactly_as_old_as_the_retention_stays()
    {
        var kept = Kept("deflake_k", Now, keptAt: Now - TimeSpan.FromDays(1));

        Assert.False(CollectionPolicy.IsKeptExpired(kept, Now, TimeSpan.FromDays(1)));
        Assert.True(CollectionPolicy.IsKeptExpired(kept, Now + TimeSpan.FromTicks(1), TimeSpan.FromDays(1)));
    }

    [Fact]
    public async Task A_template_unused_for_longer_than_DropTemplatesUnusedFor_is_dropped_and_one_used_since_is_kept()
    {
        var engine = new FakeEngine();

        var removed = await Collect(engine,
            Template("deflake_tpl_old", "old", lastUsed: Now - TimeSpan.FromDays(8), created: Now - TimeSpan.FromDays(30)),
            Template("deflake_tpl_recent", "recent", lastUsed: Now - TimeSpan.FromDays(6), created: Now - TimeSpan.FromDays(30)),
            Template("deflake_tpl_never_used", "never", lastUsed: null, created: Now - TimeSpan.FromDays(8)));

        Assert.Equal(2, removed);
        Assert.Equal(["deflake_tpl_old", "deflake_tpl_never_used"], engine.RemovedNames);
        Assert.Equal("unused since 2026-11-23 12:00:00Z", engine.Removed[0].Why);
    }

    [Fact]
    public async Task Without_DropTemplatesUnusedFor_no_template_is_dropped_for_its_age()
    {
        var engine = new FakeEngine();

        var removed = await CollectionPolicy.RemoveOrphansAsync([Template("deflake_tpl_old", "old", Now - TimeSpan.FromDays(365), null)], engine,
            Rules with { DropTemplatesUnusedFor = null }, TestContext.Current.CancellationToken);

        Assert.Equal(0, removed);
        Assert.Empty(engine.Removed);
    }

    [Fact]
    public async Task An_unused_template_used_again_before_its_locks_were_taken_is_kept()
    {
        var old = Template("deflake_tpl_old", "old", Now - TimeSpan.FromDays(8), null);
        var engine = new FakeEngine { Fresh = { ["deflake_tpl_old"] = old with { LastUsed = Now } } };

        Assert.Equal(0, await Collect(engine, old));
        Assert.Equal(["deflake_tpl_old"], engine.TemplatesTried);
    }

    [Fact]
    public async Task A_template_that_is_no_longer_Deflakes_under_its_locks_is_kept()
    {
        var old = Template("deflake_tpl_old", "old", Now - TimeSpan.FromDays(8), null);
        var engine = new FakeEngine { Fresh = { ["deflake_tpl_old"] = new CollectionCandidate("deflake_tpl_old", CollectableKind.Unmarked) } };

        Assert.Equal(0, await Collect(engine, old));
    }

    [Fact]
    public async Task The_registry_and_unmarked_databases_are_never_collected_however_old_or_ownerless()
    {
        var engine = new FakeEngine { GoneOwners = { "dead" } };
        var ancient = Now - TimeSpan.FromDays(3650);

        var removed = await Collect(engine,
            new CollectionCandidate("deflake_registry", CollectableKind.Registry) { Owner = "dead", Created = ancient, KeptAt = ancient, LastUsed = ancient, Fingerprint = "ab" },
            new CollectionCandidate("deflake_unmarked", CollectableKind.Unmarked) { Owner = "dead", Created = ancient, KeptAt = ancient, LastUsed = ancient, Fingerprint = "cd" });

        Assert.Equal(0, removed);
        Assert.Empty(engine.OwnerQuestions);
        Assert.Empty(engine.TemplatesTried);
    }

    [Fact]
    public void Superseded_templates_are_those_beyond_the_most_recently_used_by_last_use_then_creation_then_name()
    {
        var day = TimeSpan.FromDays(1);
        var templates = new[]
        {
            Template("deflake_tpl_c", "c", lastUsed: Now - day, created: Now - 10 * day, lineage: "L"),
            Template("deflake_tpl_a", "a", lastUsed: Now - 3 * day, created: Now - 10 * day, lineage: "L"),
            Template("deflake_tpl_b", "b", lastUsed: Now - 3 * day, created: Now - 10 * day, lineage: "L"),
            Template("deflake_tpl_d", "d", lastUsed: Now - 3 * day, created: Now - 5 * day, lineage: "L"),
            Template("deflake_tpl_e", "e", lastUsed: null, created: Now - 2 * day, lineage: "L"),
        };

        // By last use: c (1 day), e (created 2 days ago, never used), then d, a, b (3 days; d made later; a before b by name).
        Assert.Equal(["deflake_tpl_d", "deflake_tpl_a", "deflake_tpl_b"], Names(CollectionPolicy.SelectSuperseded(templates, "current", "L", keep: 2)));
        Assert.Equal(["deflake_tpl_b"], Names(CollectionPolicy.SelectSuperseded(templates, "current", "L", keep: 4)));
        Assert.Equal(5, CollectionPolicy.SelectSuperseded(templates, "current", "L", keep: 0).Count);
    }

    [Fact]
    public void The_current_template_is_never_superseded_even_when_least_recently_used()
    {
        var templates = new[]
        {
            Template("deflake_tpl_new", "new", Now, null, lineage: "L"),
            Template("deflake_tpl_current", "current", Now - TimeSpan.FromDays(100), null, lineage: "L"),
        };

        Assert.Empty(CollectionPolicy.SelectSuperseded(templates, "current", "L", keep: 1));
        Assert.Equal(["deflake_tpl_new"], Names(CollectionPolicy.SelectSuperseded(templates, "current", "L", keep: 0)));
    }

    [Fact]
    public void Templates_of_another_lineage_without_one_or_without_a_fingerprint_and_non_templates_are_never_superseded()
    {
        var old = Now - TimeSpan.FromDays(100);
        var templates = new[]
        {
            Template("deflake_tpl_other", "other", old, null, lineage: "M"),
            Template("deflake_tpl_none", "none", old, null, lineage: null),
            Template("deflake_tpl_nofp", "x", old, null, lineage: "L") with { Fingerprint = null },
            new CollectionCandidate("deflake_clone", CollectableKind.Clone) { Lineage = "L", Fingerprint = "y", Created = old },
            new CollectionCandidate("deflake_registry", CollectableKind.Registry) { Lineage = "L", Fingerprint = "z", Created = old },
        };

        Assert.Empty(CollectionPolicy.SelectSuperseded(templates, "current", "L", keep: 0));
        Assert.Empty(CollectionPolicy.SelectSuperseded([Template("deflake_tpl_none", "none", old, null, lineage: null)], "current", "", keep: 0));
    }

    [Fact]
    public void A_negative_keep_is_refused()
        => Assert.Throws<ArgumentOutOfRangeException>(() => CollectionPolicy.SelectSuperseded([], "current", "L", keep: -1));

    [Fact]
    public void A_superseded_template_read_again_under_its_locks_still_goes_only_if_unchanged_in_lineage_and_unused_since()
    {
        var ranked = Template("deflake_tpl_a", "a", Now - TimeSpan.FromDays(3), null, lineage: "L");

        Assert.True(CollectionPolicy.IsStillSuperseded(ranked, ranked, "L"));
        Assert.False(CollectionPolicy.IsStillSuperseded(ranked, ranked with { Lineage = "M" }, "L"));
        Assert.False(CollectionPolicy.IsStillSuperseded(ranked, ranked with { LastUsed = Now }, "L"));
        Assert.False(CollectionPolicy.IsStillSuperseded(ranked, ranked with { Fingerprint = "b" }, "L"));
        Assert.False(CollectionPolicy.IsStillSuperseded(ranked, ranked with { Kind = CollectableKind.Unmarked }, "L"));
    }

    [Fact]
    public async Task Removing_superseded_templates_drops_the_chosen_ones_through_the_engine_and_says_why()
    {
        var day = TimeSpan.FromDays(1);
        var oldest = Template("deflake_tpl_a", "a", Now - 4 * day, null, lineage: "L");
        var usedMeanwhile = Template("deflake_tpl_b", "b", Now - 3 * day, null, lineage: "L");
        var engine = new FakeEngine { Fresh = { ["deflake_tpl_b"] = usedMeanwhile with { LastUsed = Now } } };

        var removed = await CollectionPolicy.RemoveSupersededTemplatesAsync(
            [oldest, usedMeanwhile, Template("deflake_tpl_c", "c", Now - day, null, lineage: "L"), Template("deflake_tpl_cur", "cur", Now - 9 * day, null, lineage: "L")],
            engine, "cur", "deflake_tpl_cur", "L", keep: 1, TestContext.Current.CancellationToken);

        Assert.Equal(1, removed);
        Assert.Equal(["deflake_tpl_b", "deflake_tpl_a"], engine.TemplatesTried);
        Assert.Equal([("deflake_tpl_a", "superseded by deflake_tpl_cur (lineage L, 1 more recently used kept), unused")], engine.Removed);
    }

    private static Task<int> Collect(FakeEngine engine, params CollectionCandidate[] candidates)
        => CollectionPolicy.RemoveOrphansAsync(candidates, engine, Rules, TestContext.Current.CancellationToken);

    private static string[] Names(IEnumerable<CollectionCandidate> candidates) => candidates.Select(c => c.Name).ToArray();

    private static CollectionCandidate Clone(string name, string? owner) => new(name, CollectableKind.Clone) { Owner = owner, Created = Now - TimeSpan.FromDays(1) };

    private static CollectionCandidate Kept(string name, DateTimeOffset created, DateTimeOffset? keptAt)
        => new(name, CollectableKind.Kept) { Created = created, KeptAt = keptAt };

    private static CollectionCandidate Template(string name, string fingerprint, DateTimeOffset? lastUsed, DateTimeOffset? created, string? lineage = null)
        => new(name, CollectableKind.Template) { Fingerprint = fingerprint, LastUsed = lastUsed, Created = created, Lineage = lineage };

    /// <summary>An engine that records what the policy asks of it; owners in <see cref="GoneOwners"/> are gone.</summary>
    private sealed class FakeEngine : ICollectionPrimitives
    {
        public HashSet<string> GoneOwners { get; } = new(StringComparer.Ordinal);

        /// <summary>What reading a template again under its locks finds (by name); by default, the same as listed.</summary>
        public Dictionary<string, CollectionCandidate> Fresh { get; } = new(StringComparer.Ordinal);

        public List<string> OwnerQuestions { get; } = [];

        public List<string> TemplatesTried { get; } = [];

        public List<(string Name, string Why)> Removed { get; } = [];

        public string[] RemovedNames => Removed.Select(r => r.Name).ToArray();

        public Task<bool> IsOwnerGoneAsync(CollectionCandidate candidate, CancellationToken cancellationToken)
        {
            OwnerQuestions.Add(candidate.Owner!);
            return Task.FromResult(GoneOwners.Contains(candidate.Owner!));
        }

        public Task<int> RemoveAsync(CollectionCandidate candidate, string why, CancellationToken cancellationToken)
        {
            Removed.Add((candidate.Name, why));
            return Task.FromResult(1);
        }

        public Task<bool> TryDropTemplateAsync(CollectionCandidate candidate, Func<CollectionCandidate, bool> stillDue, string why, CancellationToken cancellationToken)
        {
            TemplatesTried.Add(candidate.Name);
            if (!stillDue(Fresh.GetValueOrDefault(candidate.Name, candidate)))
            {
                return Task.FromResult(false);
            }

            Removed.Add((candidate.Name, why));
            return Task.FromResult(true);
        }
    }
}
