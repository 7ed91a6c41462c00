namespace Deflake;

/// <summary>What <see cref="ChaosModes.Identities"/> did to a template: which keys got a range, which could not.</summary>
/// <param name="Starts">First id per covered table (or <c>table.column</c>), as the engine names it.</param>
/// <param name="NotCovered">Tables whose ids still count from 1, with the reason, for example a SQLite rowid table without AUTOINCREMENT.</param>
public sealed record IdentityChaosReport(IReadOnlyDictionary<string, long> Starts, IReadOnlyList<string> NotCovered)
{
    /// <summary>An empty report (identities off).</summary>
    public static IdentityChaosReport Empty { get; } = new(new Dictionary<string, long>(), []);
}
