namespace Deflake;

/// <summary>
/// Where each table's identity range starts under <see cref="ChaosModes.Identities"/>: every table gets its own
/// slot of <see cref="Spacing"/> values, slots are drawn from the seed without repetition, and a seeded offset
/// below <see cref="MaxOffset"/> is added. Every start fits a 32-bit integer column (PostgreSQL <c>serial</c>,
/// C# <c>int</c> ids), and a table can take <see cref="Spacing"/> − <see cref="MaxOffset"/> rows before it reaches
/// the next slot.
/// </summary>
public sealed class IdentityRangePlan
{
    /// <summary>Distance between two slots: one million values.</summary>
    public const long Spacing = 1_000_000;

    /// <summary>Number of slots: starts lie between one million and about two billion (below 2³¹ − 1).</summary>
    public const int Slots = 2_000;

    /// <summary>The seeded offset within a slot is below this, so at least 999,000 ids fit before the next slot.</summary>
    public const long MaxOffset = 1_000;

    private readonly Dictionary<string, long> _starts;

    private IdentityRangePlan(int seed, Dictionary<string, long> starts)
    {
        Seed = seed;
        _starts = starts;
    }

    /// <summary>The seed the plan was drawn from.</summary>
    public int Seed { get; }

    /// <summary>The first id of each table (keys as given, compared ordinally).</summary>
    public IReadOnlyDictionary<string, long> Starts => _starts;

    /// <summary>The first id of <paramref name="key"/>.</summary>
    /// <exception cref="KeyNotFoundException">The key was not part of the plan.</exception>
    public long StartOf(string key) => _starts[key];

    /// <summary>
    /// Draws a start per key (a table, or a table and column). The same seed and keys give the same starts;
    /// the order of <paramref name="keys"/> does not matter.
    /// </summary>
    /// <exception cref="ArgumentException">More than <see cref="Slots"/> keys.</exception>
    public static IdentityRangePlan Create(int seed, IEnumerable<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var sorted = keys.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (sorted.Length > Slots)
        {
            throw new ArgumentException($"Deflake gives at most {Slots} tables their own identity range; this schema has {sorted.Length}.", nameof(keys));
        }

        // Seeded Fisher-Yates over the slot numbers; the first sorted.Length slots go to the keys in name order.
        var slots = new int[Slots];
        for (var i = 0; i < Slots; i++)
        {
            slots[i] = i + 1;
        }

        var state = ChaosSeed.Derive(seed, "identities:slots");
        for (var i = 0; i < sorted.Length; i++)
        {
            state = ChaosSeed.Mix(state);
            var j = i + (int)(state % (ulong)(Slots - i));
            (slots[i], slots[j]) = (slots[j], slots[i]);
        }

        var starts = new Dictionary<string, long>(sorted.Length, StringComparer.Ordinal);
        for (var i = 0; i < sorted.Length; i++)
        {
            starts[sorted[i]] = (slots[i] * Spacing) + ChaosSeed.Derive(seed, "identities:offset:" + sorted[i], 0, MaxOffset);
        }

        return new IdentityRangePlan(seed, starts);
    }
}
