namespace Deflake;

/// <summary>What <see cref="ChaosModes.Identities"/> did to a template: which keys got a range, which could not.</summary>
/// <param name="Starts">First id per covered table (or <c>table.column</c>), as the engine names it.</param>
/// <param name="NotCovered">Keys whose ids do not move to a range of their own, with the reason, for example a SQLite rowid table without AUTOINCREMENT.</param>
public sealed record IdentityChaosReport(IReadOnlyDictionary<string, long> Starts, IReadOnlyList<NotCoveredKey> NotCovered)
{
    /// <summary>An empty report (identities off).</summary>
    public static IdentityChaosReport Empty { get; } = new(new Dictionary<string, long>(), []);
}

/// <summary>A key <see cref="ChaosModes.Identities"/> could not give a range of its own: its ids count as they always did.</summary>
/// <param name="Key">The table (SQLite) or <c>table.column</c> (MariaDB; <c>schema.table.column</c> on PostgreSQL), as the engine names it.</param>
/// <param name="Reason">Why, in a few words: <c>no counter: INTEGER PRIMARY KEY without AUTOINCREMENT</c>, <c>its type stops at 127</c>.</param>
public sealed record NotCoveredKey(string Key, string Reason)
{
    /// <summary><c>key (reason)</c>, as warnings list it.</summary>
    public override string ToString() => $"{Key} ({Reason})";
}
