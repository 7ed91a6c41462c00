namespace Deflake.MariaDb.Internal;

/// <summary>Quoting for MariaDB/MySQL SQL text: every identifier Deflake writes goes through here.</summary>
internal static class Quote
{
    /// <summary>A backtick-quoted identifier; embedded backticks are doubled.</summary>
    public static string Identifier(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return "`" + name.Replace("`", "``", StringComparison.Ordinal) + "`";
    }

    /// <summary>A single-quoted string literal; quotes and backslashes are escaped (safe whatever the sql_mode).</summary>
    public static string Literal(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "''", StringComparison.Ordinal) + "'";
    }
}
