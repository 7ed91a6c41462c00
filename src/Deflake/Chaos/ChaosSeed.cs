using System.Text;

namespace Deflake;

/// <summary>
/// Derives every chaos choice from the run's seed. Stable across processes, machines and .NET versions
/// (SplitMix64 over the seed and a purpose string), so a seed replays the same ranges and orders everywhere.
/// </summary>
public static class ChaosSeed
{
    /// <summary>Derives a 64-bit value for one purpose (for example <c>rows:orders</c>) from the seed.</summary>
    public static ulong Derive(int seed, string purpose)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        var state = Mix(unchecked((ulong)(uint)seed) ^ 0x9E3779B97F4A7C15UL);
        Span<byte> buffer = stackalloc byte[256];
        var bytes = purpose.Length <= 64 ? buffer[..Encoding.UTF8.GetBytes(purpose, buffer)] : Encoding.UTF8.GetBytes(purpose);
        foreach (var b in bytes)
        {
            state = Mix(state ^ b);
        }

        return Mix(state ^ (ulong)bytes.Length);
    }

    /// <summary>
    /// The same value as <see cref="Derive(int, string)"/> for <paramref name="prefix"/> followed by
    /// <paramref name="number"/> in invariant digits (<c>Derive(seed, "rows:reverse:" + 12)</c>), without building
    /// that string: for choices made per statement.
    /// </summary>
    public static ulong Derive(int seed, string prefix, long number)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        Span<char> digits = stackalloc char[20];
        if (!number.TryFormat(digits, out var written, default, System.Globalization.CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("A long always fits 20 characters.");
        }

        if (prefix.Length > 64)
        {
            return Derive(seed, string.Concat(prefix, digits[..written]));
        }

        var state = Mix(unchecked((ulong)(uint)seed) ^ 0x9E3779B97F4A7C15UL);
        Span<byte> buffer = stackalloc byte[256];
        var length = Encoding.UTF8.GetBytes(prefix, buffer);
        // Invariant digits and '-' are ASCII: one byte each, as Encoding.UTF8 would give them.
        for (var i = 0; i < written; i++)
        {
            buffer[length++] = (byte)digits[i];
        }

        foreach (var b in buffer[..length])
        {
            state = Mix(state ^ b);
        }

        return Mix(state ^ (ulong)length);
    }

    /// <summary>Derives a value in [<paramref name="minInclusive"/>, <paramref name="maxExclusive"/>) for one purpose.</summary>
    public static long Derive(int seed, string purpose, long minInclusive, long maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(minInclusive, maxExclusive);
        var range = (ulong)(maxExclusive - minInclusive);
        return minInclusive + (long)(Derive(seed, purpose) % range);
    }

    internal static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
