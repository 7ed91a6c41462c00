using System.Globalization;

namespace Deflake.Coordination;

/// <summary>What a <see cref="CollectionCandidate"/> is, as far as collection is concerned.</summary>
public enum CollectableKind
{
    /// <summary>Not provably Deflake's (no marker, no registry entry, or one that does not match its name): never collected.</summary>
    Unmarked,

    /// <summary>Deflake's own bookkeeping (its registry database): never collected.</summary>
    Registry,

    /// <summary>A clone (or a template build) owned by a process: collected once that process is gone.</summary>
    Clone,

    /// <summary>A failed test's database, kept with no owner: collected once older than the kept retention, counted from when it was kept.</summary>
    Kept,

    /// <summary>A template: collected when unused for long, or when superseded by newer ones of its lineage, and only when no live pool uses it.</summary>
    Template,
}

/// <summary>
/// One thing collection may remove, as an engine describes it: a database (PostgreSQL, MariaDB), a file, or a dead owner's
/// folder of clones (SQLite). Engines list their candidates from their own markers, registry or files;
/// <see cref="CollectionPolicy"/> decides which go.
/// </summary>
/// <param name="Name">The engine's name for it (database name, or path); what the engine drops and logs.</param>
/// <param name="Kind">What it is.</param>
public sealed record CollectionCandidate(string Name, CollectableKind Kind)
{
    /// <summary>The owning process's token (<see cref="ProcessIdentity.Token"/>) for a <see cref="CollectableKind.Clone"/>; null: owned by no one, never an orphan.</summary>
    public string? Owner { get; init; }

    /// <summary>The owning process's id, when recorded (for the log).</summary>
    public int? ProcessId { get; init; }

    /// <summary>The owning process's machine, when recorded (for the log).</summary>
    public string? Machine { get; init; }

    /// <summary>When it was created; null when unknown.</summary>
    public DateTimeOffset? Created { get; init; }

    /// <summary>For <see cref="CollectableKind.Kept"/>: when it was kept; null when unknown (then it is never collected).</summary>
    public DateTimeOffset? KeptAt { get; init; }

    /// <summary>For <see cref="CollectableKind.Template"/>: when a pool last used it; null: <see cref="Created"/> stands for it.</summary>
    public DateTimeOffset? LastUsed { get; init; }

    /// <summary>For <see cref="CollectableKind.Template"/>: its lineage (<see cref="TemplateRequest.Lineage"/>); null: never superseded.</summary>
    public string? Lineage { get; init; }

    /// <summary>For <see cref="CollectableKind.Template"/>: the fingerprint it was built for; null: never collected.</summary>
    public string? Fingerprint { get; init; }
}

/// <summary>
/// What an engine can do for collection: tell whether an owner is gone, and remove one candidate. Each implementation
/// keeps its own mechanics (locks, registry rows, files) and the safety checks that go with them.
/// </summary>
public interface ICollectionPrimitives
{
    /// <summary>Whether the process that owns <paramref name="candidate"/> (<see cref="CollectionCandidate.Owner"/>) is gone, on any machine.</summary>
    Task<bool> IsOwnerGoneAsync(CollectionCandidate candidate, CancellationToken cancellationToken);

    /// <summary>
    /// Removes a clone whose owner is gone or a kept database past its retention, and logs <paramref name="why"/>. May still
    /// refuse (something of the engine's own says not yet). Returns how many databases it removed (0 when it did not).
    /// </summary>
    Task<int> RemoveAsync(CollectionCandidate candidate, string why, CancellationToken cancellationToken);

    /// <summary>
    /// Drops a template (<paramref name="candidate"/>) under its locks, only when no live pool uses it and <paramref name="stillDue"/> holds for the
    /// template read again under those locks (it never holds for anything no longer marked as the same Deflake template).
    /// Logs <paramref name="why"/> when dropped. Returns whether it was dropped.
    /// </summary>
    Task<bool> TryDropTemplateAsync(CollectionCandidate candidate, Func<CollectionCandidate, bool> stillDue, string why, CancellationToken cancellationToken);
}

/// <summary>What orphan collection removes: the rules every engine shares.</summary>
/// <param name="Now">The time collection runs at.</param>
/// <param name="KeptRetention">Kept databases older than this (from when they were kept) are removed.</param>
/// <param name="DropTemplatesUnusedFor">Templates unused for longer than this are dropped; null keeps them.</param>
/// <param name="Self">The owner that collects (its own clones are never orphans): normally <see cref="ProcessIdentity.Token"/>.</param>
public sealed record OrphanRules(DateTimeOffset Now, TimeSpan KeptRetention, TimeSpan? DropTemplatesUnusedFor, string Self);

/// <summary>
/// The policy of collection, the same for every engine: which databases are orphans, which kept databases and templates
/// are old enough to go, and which templates a newer one of their lineage supersedes. Engines list candidates and supply
/// the primitives (<see cref="ICollectionPrimitives"/>); they never decide.
/// </summary>
/// <remarks>
/// The rules: a clone whose owner process is gone is an orphan (never one of <see cref="OrphanRules.Self"/>, never one owned
/// by no one); a kept database goes once older than the kept retention, counted from when it was kept; a template unused
/// for <see cref="OrphanRules.DropTemplatesUnusedFor"/> goes when no live pool uses it; of the other templates of the
/// current template's lineage the <c>keep</c> most recently used stay (by last use, then creation, then name) and the rest
/// go when no live pool uses them. Never the current template, never the registry, never anything not marked as Deflake's.
/// </remarks>
public static class CollectionPolicy
{
    /// <summary>Why a kept database goes (the log's words).</summary>
    public const string KeptTooLong = "kept longer than the retention";

    /// <summary>
    /// Removes the orphans among <paramref name="candidates"/> (in their order) through <paramref name="engine"/>: clones of
    /// owners that are gone (each owner asked once), kept databases past their retention, templates unused for too long.
    /// Returns how many databases were removed.
    /// </summary>
    public static async Task<int> RemoveOrphansAsync(IEnumerable<CollectionCandidate> candidates, ICollectionPrimitives engine, OrphanRules rules,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(rules);
        var ownerGone = new Dictionary<string, bool>(StringComparer.Ordinal);
        var removed = 0;
        foreach (var candidate in candidates)
        {
            cancellationToken.ThrowIfCancellationRequested();
            switch (candidate.Kind)
            {
                case CollectableKind.Template when IsTemplateUnused(candidate, rules.Now, rules.DropTemplatesUnusedFor):
                    if (await engine.TryDropTemplateAsync(candidate, fresh => IsSameTemplate(candidate, fresh) && IsTemplateUnused(fresh, rules.Now, rules.DropTemplatesUnusedFor),
                            UnusedSince(candidate), cancellationToken).ConfigureAwait(false))
                    {
                        removed++;
                    }

                    break;
                case CollectableKind.Kept when IsKeptExpired(candidate, rules.Now, rules.KeptRetention):
                    removed += await engine.RemoveAsync(candidate, KeptTooLong, cancellationToken).ConfigureAwait(false);
                    break;
                case CollectableKind.Clone when IsOthersClone(candidate, rules.Self):
                    var owner = candidate.Owner!;
                    if (!ownerGone.TryGetValue(owner, out var gone))
                    {
                        gone = await engine.IsOwnerGoneAsync(candidate, cancellationToken).ConfigureAwait(false);
                        ownerGone[owner] = gone;
                    }

                    if (gone)
                    {
                        removed += await engine.RemoveAsync(candidate, OwnerGone(candidate), cancellationToken).ConfigureAwait(false);
                    }

                    break;
            }
        }

        return removed;
    }

    /// <summary>
    /// Drops the templates among <paramref name="templates"/> that the current one supersedes (<see cref="SelectSuperseded"/>),
    /// each through <paramref name="engine"/> only if, read again under its locks, it is still of the lineage and unused since.
    /// Returns how many were dropped.
    /// </summary>
    /// <param name="templates">The engine's templates (any lineage; the others are left alone).</param>
    /// <param name="engine">Drops them.</param>
    /// <param name="currentFingerprint">The current template's fingerprint: never dropped.</param>
    /// <param name="currentName">The current template's name, for the log.</param>
    /// <param name="lineage">The current template's lineage.</param>
    /// <param name="keep">How many of the others, the most recently used, stay.</param>
    /// <param name="cancellationToken">Stops collecting.</param>
    public static async Task<int> RemoveSupersededTemplatesAsync(IEnumerable<CollectionCandidate> templates, ICollectionPrimitives engine,
        string currentFingerprint, string currentName, string lineage, int keep, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var why = string.Create(CultureInfo.InvariantCulture, $"superseded by {currentName} (lineage {lineage}, {keep} more recently used kept), unused");
        var removed = 0;
        foreach (var template in SelectSuperseded(templates, currentFingerprint, lineage, keep))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (await engine.TryDropTemplateAsync(template, fresh => IsStillSuperseded(template, fresh, lineage), why, cancellationToken).ConfigureAwait(false))
            {
                removed++;
            }
        }

        return removed;
    }

    /// <summary>Whether <paramref name="candidate"/> is a clone another process owns (so it is an orphan once that owner is gone).</summary>
    public static bool IsOthersClone(CollectionCandidate candidate, string self)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        return candidate.Kind == CollectableKind.Clone && candidate.Owner is { Length: > 0 } owner && owner != self;
    }

    /// <summary>Whether a kept database is older than <paramref name="retention"/>, counted from when it was kept (never when that is unknown).</summary>
    public static bool IsKeptExpired(CollectionCandidate candidate, DateTimeOffset now, TimeSpan retention)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        return candidate.Kind == CollectableKind.Kept && candidate.KeptAt is { } keptAt && now - keptAt > retention;
    }

    /// <summary>Whether a template has been unused (since its last use, or its creation) for longer than <paramref name="unusedFor"/>; never when that is null.</summary>
    public static bool IsTemplateUnused(CollectionCandidate candidate, DateTimeOffset now, TimeSpan? unusedFor)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        return candidate.Kind == CollectableKind.Template && candidate.Fingerprint is not null && unusedFor is { } unused
               && LastUse(candidate) is { } lastUse && now - lastUse > unused;
    }

    /// <summary>
    /// The templates the current one supersedes, in the order they go: the others of <paramref name="lineage"/> (never the
    /// one of <paramref name="currentFingerprint"/>, never one without a fingerprint), sorted by last use, then creation
    /// (newest first), then name, without the first <paramref name="keep"/>.
    /// </summary>
    public static IReadOnlyList<CollectionCandidate> SelectSuperseded(IEnumerable<CollectionCandidate> templates, string currentFingerprint, string lineage, int keep)
    {
        ArgumentNullException.ThrowIfNull(templates);
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        if (lineage is not { Length: > 0 })
        {
            return [];
        }

        return templates
            .Where(t => t.Kind == CollectableKind.Template && t.Fingerprint is not null && t.Fingerprint != currentFingerprint && t.Lineage == lineage)
            .OrderByDescending(t => LastUse(t) ?? DateTimeOffset.MinValue)
            .ThenByDescending(t => t.Created ?? DateTimeOffset.MinValue)
            .ThenBy(t => t.Name, StringComparer.Ordinal)
            .Skip(keep)
            .ToList();
    }

    /// <summary>
    /// Whether a template chosen as superseded (<paramref name="ranked"/>) still is, read again under its locks
    /// (<paramref name="fresh"/>): the same Deflake template, still of <paramref name="lineage"/>, and not used since it was ranked.
    /// </summary>
    public static bool IsStillSuperseded(CollectionCandidate ranked, CollectionCandidate fresh, string lineage)
    {
        ArgumentNullException.ThrowIfNull(ranked);
        ArgumentNullException.ThrowIfNull(fresh);
        return IsSameTemplate(ranked, fresh) && fresh.Lineage == lineage
               && (LastUse(fresh) ?? DateTimeOffset.MinValue) <= (LastUse(ranked) ?? DateTimeOffset.MinValue);
    }

    /// <summary>A template's last use: when a pool last used it, or else when it was made.</summary>
    public static DateTimeOffset? LastUse(CollectionCandidate candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        return candidate.LastUsed ?? candidate.Created;
    }

    private static bool IsSameTemplate(CollectionCandidate ranked, CollectionCandidate fresh)
        => fresh.Kind == CollectableKind.Template && fresh.Fingerprint is not null && fresh.Fingerprint == ranked.Fingerprint && fresh.Name == ranked.Name;

    private static string UnusedSince(CollectionCandidate template)
        => "unused since " + LastUse(template)!.Value.UtcDateTime.ToString("u", CultureInfo.InvariantCulture);

    private static string OwnerGone(CollectionCandidate clone) => clone.ProcessId is { } pid
        ? string.Create(CultureInfo.InvariantCulture, $"owner pid {pid} on {clone.Machine} is gone")
        : $"its owner {clone.Owner} is gone";
}
