using System.Security.Cryptography;
using System.Text;

namespace Deflake;

/// <summary>Validation and file-safe forms of resource and candidate names.</summary>
internal static class LeaseNames
{
    public static string Validate(string? name, string setting)
    {
        if (name is null)
        {
            throw new ArgumentNullException(setting, $"{setting}: is null; name it, such as 'accounts'.");
        }

        string? problem = null;
        if (string.IsNullOrWhiteSpace(name))
        {
            problem = "is empty or whitespace";
        }
        else if (name.Length > Leases.MaxNameLength)
        {
            problem = $"is {name.Length} characters long; the limit is {Leases.MaxNameLength}";
        }
        else if (name.Any(char.IsControl))
        {
            problem = "contains a control character";
        }
        else if (char.IsWhiteSpace(name[0]) || char.IsWhiteSpace(name[^1]))
        {
            problem = "starts or ends with whitespace";
        }

        return problem is null
            ? name
            : throw new ArgumentException($"{setting}: '{OneLine(name, 60)}' {problem}; use a short printable name such as 'accounts'.", setting);
    }

    /// <summary>A readable, file-safe, collision-free form: the safe characters of the name, a dash and a hash.</summary>
    public static string FileSafe(string name)
    {
        var builder = new StringBuilder(48);
        foreach (var c in name)
        {
            if (builder.Length == 32)
            {
                break;
            }

            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_');
        }

        builder.Append('-').Append(Hash(name));
        return builder.ToString();
    }

    /// <summary>Twelve hex characters of SHA-256: stable across processes and machines.</summary>
    public static string Hash(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 6));

    /// <summary>A key for the set of candidates, whatever their order.</summary>
    public static string CandidateSetHash(IReadOnlyList<string> candidates)
    {
        var sorted = candidates.ToArray();
        Array.Sort(sorted, StringComparer.Ordinal);
        return Hash(string.Join('\n', sorted));
    }

    /// <summary>The text on one line and at most <paramref name="max"/> characters, for messages.</summary>
    public static string OneLine(string text, int max)
    {
        var flat = new string(text.Select(c => char.IsControl(c) ? ' ' : c).ToArray());
        return flat.Length <= max ? flat : flat[..(max - 1)] + "…";
    }
}
