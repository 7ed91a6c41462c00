using Deflake.Coordination;

namespace Deflake.MariaDb.Tests;

/// <summary>What MariaDB's registry rows make of a database for collection (no server needed).</summary>
public sealed class MariaDbCollectionCandidateTests
{
    private static readonly DateTime Created = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Unspecified);

    // name, kind, owner, pid, machine, fingerprint, created, kept_at, last_used, lineage
    private static object?[] Row(string name, string kind, string? owner = null, string? fingerprint = null, DateTime? keptAt = null, DateTime? lastUsed = null,
        string? lineage = null) => [name, kind, owner, owner is null ? null : 7, owner is null ? null : "m", fingerprint, Created, keptAt, lastUsed, lineage];

    [Fact]
    public void The_registry_and_names_without_Deflakes_prefix_are_never_candidates()
    {
        Assert.Equal(CollectableKind.Registry, MariaDbEngine.ToCandidate(Row("deflake_registry", "template", fingerprint: "ab")).Kind);
        Assert.Equal(CollectableKind.Unmarked, MariaDbEngine.ToCandidate(Row("app_orders", "clone", owner: "x")).Kind);
    }

    [Fact]
    public void Only_a_template_row_named_by_its_fingerprint_is_a_template_and_unknown_kinds_are_unmarked()
    {
        var template = MariaDbEngine.ToCandidate(Row("deflake_tpl_ab12", "template", fingerprint: "ab12", lastUsed: Created.AddDays(2), lineage: "L"));

        Assert.Equal(new CollectionCandidate("deflake_tpl_ab12", CollectableKind.Template)
        {
            Fingerprint = "ab12", Created = new DateTimeOffset(Created, TimeSpan.Zero), LastUsed = new DateTimeOffset(Created.AddDays(2), TimeSpan.Zero), Lineage = "L",
        }, template);
        Assert.Equal(CollectableKind.Unmarked, MariaDbEngine.ToCandidate(Row("deflake_tpl_cd34", "template", fingerprint: "ab12")).Kind);
        Assert.Equal(CollectableKind.Unmarked, MariaDbEngine.ToCandidate(Row("deflake_tpl_ab12", "template")).Kind);
        Assert.Equal(CollectableKind.Unmarked, MariaDbEngine.ToCandidate(Row("deflake_x_1", "someday", owner: "x")).Kind);
    }

    [Fact]
    public void A_kept_row_counts_from_its_kept_at_and_without_one_is_never_due()
    {
        Assert.Equal(new DateTimeOffset(Created.AddDays(3), TimeSpan.Zero), MariaDbEngine.ToCandidate(Row("deflake_ab_x_1", "kept", keptAt: Created.AddDays(3))).KeptAt);
        Assert.Null(MariaDbEngine.ToCandidate(Row("deflake_ab_x_1", "kept")).KeptAt);
    }

    [Fact]
    public void Clones_and_builds_are_owned_by_the_process_their_row_names()
    {
        foreach (var kind in new[] { "clone", "build" })
        {
            var clone = MariaDbEngine.ToCandidate(Row("deflake_tpl_ab12", kind, owner: "x", fingerprint: "ab12"));

            Assert.Equal(CollectableKind.Clone, clone.Kind);
            Assert.Equal(("x", 7, "m"), (clone.Owner, clone.ProcessId, clone.Machine));
        }
    }
}
