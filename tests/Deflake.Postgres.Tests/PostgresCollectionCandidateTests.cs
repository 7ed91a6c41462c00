using Deflake.Coordination;
using Deflake.Postgres.Internal;

namespace Deflake.Postgres.Tests;

/// <summary>What PostgreSQL's markers make of a database for collection (no server needed).</summary>
public sealed class PostgresCollectionCandidateTests
{
    private static readonly DateTimeOffset Created = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_database_without_a_marker_is_unmarked_and_the_registry_is_the_registry()
    {
        Assert.Equal(CollectableKind.Unmarked, PostgresEngine.ToCandidate("deflake_0011_abc_1", null).Kind);
        Assert.Equal(CollectableKind.Registry, PostgresEngine.ToCandidate("deflake_registry", new DatabaseMarker { Kind = "registry", Created = Created }).Kind);
    }

    [Fact]
    public void Only_a_template_named_by_the_fingerprint_its_marker_records_is_a_template()
    {
        var marker = new DatabaseMarker { Kind = "template", Fingerprint = "ab12", Created = Created, LastUsed = Created.AddDays(1), Lineage = "L" };

        var template = PostgresEngine.ToCandidate("deflake_tpl_ab12", marker);

        Assert.Equal(new CollectionCandidate("deflake_tpl_ab12", CollectableKind.Template)
        {
            Fingerprint = "ab12", Created = Created, LastUsed = Created.AddDays(1), Lineage = "L",
        }, template);
        Assert.Equal(CollectableKind.Unmarked, PostgresEngine.ToCandidate("deflake_tpl_cd34", marker).Kind);
        Assert.Equal(CollectableKind.Unmarked, PostgresEngine.ToCandidate("deflake_tpl_ab12", marker with { Kind = "clone" }).Kind);
    }

    [Fact]
    public void A_kept_database_counts_from_when_it_was_kept_or_from_its_creation_when_an_older_marker_has_no_such_time()
    {
        var kept = new DatabaseMarker { Kind = "clone", Kept = true, Created = Created, KeptAt = Created.AddDays(3) };

        Assert.Equal(Created.AddDays(3), PostgresEngine.ToCandidate("deflake_ab_x_1", kept).KeptAt);
        Assert.Equal(Created, PostgresEngine.ToCandidate("deflake_ab_x_1", kept with { KeptAt = null }).KeptAt);
        Assert.Equal(CollectableKind.Kept, PostgresEngine.ToCandidate("deflake_ab_x_1", kept).Kind);
    }

    [Fact]
    public void Clones_and_builds_are_owned_by_the_process_their_marker_names()
    {
        var clone = PostgresEngine.ToCandidate("deflake_bld_ab12_x", new DatabaseMarker { Kind = "build", Owner = "x", ProcessId = 7, Machine = "m", Created = Created });

        Assert.Equal(new CollectionCandidate("deflake_bld_ab12_x", CollectableKind.Clone) { Owner = "x", ProcessId = 7, Machine = "m", Created = Created }, clone);
    }
}
