using System.Text;

namespace Deflake.Postgres.Internal;

/// <summary>Quotes names and literals for the few PostgreSQL statements that cannot take parameters.</summary>
internal static class Quote
{
    /// <summary>Longest identifier PostgreSQL keeps (NAMEDATALEN - 1 bytes).</summary>
    public const int MaxIdentifierBytes = 63;

    /// <summary>Double-quotes an identifier, doubling embedded quotes. Rejects names PostgreSQL would truncate.</summary>
    public static string Identifier(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("An identifier cannot contain a NUL character.", nameof(name));
        }

        if (Encoding.UTF8.GetByteCount(name) > MaxIdentifierBytes)
        {
            throw new ArgumentException($"Identifier '{name}' is longer than {MaxIdentifierBytes} bytes; PostgreSQL would truncate it.", nameof(name));
        }

        return "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary>Single-quotes a string literal (standard_conforming_strings on), doubling embedded quotes.</summary>
    public static string Literal(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("A literal cannot contain a NUL character.", nameof(value));
        }

        return "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
    }
}
