using System.Text;

namespace Deflake.Testing;

/// <summary>
/// The pure ordering rules behind every integration's orderers (xUnit v3 and v2, NUnit, MSTest),
/// framework-free so they can be tested and shared.
/// </summary>
public static class TestOrdering
{
    /// <summary>
    /// The sort key of <paramref name="id"/> in the random order of <paramref name="seed"/>. It depends on nothing
    /// but the two, so any subset of the tests keeps the relative order it had in the full run.
    /// </summary>
    public static ulong RandomKey(int seed, string id)
    {
        ArgumentNullException.ThrowIfNull(id);

        // FNV-1a over the UTF-8 bytes of the id, started from the seed, then a SplitMix64 finaliser so that
        // ids differing in one character land far apart. Stable across processes, runtimes and platforms.
        var hash = 14695981039346656037UL ^ (ulong)(uint)seed;
        hash *= 1099511628211UL;
        foreach (var b in Encoding.UTF8.GetBytes(id))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }

        hash ^= hash >> 30;
        hash *= 0xbf58476d1ce4e5b9UL;
        hash ^= hash >> 27;
        hash *= 0x94d049bb133111ebUL;
        hash ^= hash >> 31;
        return hash;
    }

    /// <summary>Orders items by <see cref="RandomKey"/> of their id; ties (same id) by <paramref name="tieBreaker"/>.</summary>
    public static IReadOnlyList<T> Random<T>(IEnumerable<T> items, int seed, Func<T, string> id, Func<T, string>? tieBreaker = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(id);
        var tie = tieBreaker ?? id;
        return items
            .Select(item => (item, key: RandomKey(seed, id(item)), tie: tie(item)))
            .OrderBy(x => x.key)
            .ThenBy(x => RandomKey(seed, x.tie))
            .ThenBy(x => x.tie, StringComparer.Ordinal)
            .Select(x => x.item)
            .ToArray();
    }

    /// <summary>
    /// Orders items by their place in <paramref name="list"/> and drops the ones not listed. Items of the same group
    /// (a test class, a test collection: units the framework runs together) stay together, and groups run in the
    /// order of their <em>last</em> listed item, so the last listed test always runs last, after every other listed
    /// test, which is what bisection needs.
    /// </summary>
    public static IReadOnlyList<T> Listed<T>(IEnumerable<T> items, IReadOnlyList<string> list, Func<T, string> id, Func<T, string>? group = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(id);
        var position = Positions(list);
        var listed = items
            .Select(item => (item, index: position.TryGetValue(id(item), out var i) ? i : -1))
            .Where(x => x.index >= 0)
            .ToArray();
        if (group is null)
        {
            return listed.OrderBy(x => x.index).Select(x => x.item).ToArray();
        }

        var groupLast = listed
            .GroupBy(x => group(x.item), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Max(x => x.index), StringComparer.Ordinal);
        return listed
            .OrderBy(x => groupLast[group(x.item)])
            .ThenBy(x => x.index)
            .Select(x => x.item)
            .ToArray();
    }

    /// <summary>Orders groups (test collections) by the last place any of their listed members holds; unlisted groups are dropped.</summary>
    public static IReadOnlyList<T> ListedGroups<T>(IEnumerable<T> groups, IReadOnlyList<string> list, Func<T, IEnumerable<string>> members)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(members);
        var position = Positions(list);
        return groups
            .Select(g => (g, last: members(g).Select(m => position.TryGetValue(m, out var i) ? i : -1).DefaultIfEmpty(-1).Max()))
            .Where(x => x.last >= 0)
            .OrderBy(x => x.last)
            .Select(x => x.g)
            .ToArray();
    }

    private static Dictionary<string, int> Positions(IReadOnlyList<string> list)
    {
        var position = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < list.Count; i++)
        {
            position.TryAdd(list[i], i);
        }

        return position;
    }
}
