using System.Globalization;
using System.Text.RegularExpressions;

namespace Deflake.MariaDb.Internal;

/// <summary>
/// Where in a migration's SQL MariaDB stopped. It gives no offset, only a syntax error's rest of the statement
/// (<c>near '…' at line N</c>), which is found in the file's text; other errors name no place, so only the file.
/// </summary>
internal static partial class MigrationErrors
{
    /// <summary><paramref name="error"/> located, when MariaDB said where and the migration's text is known.</summary>
    public static TemplateBuildException Locate(TemplateBuildException error)
    {
        if (error.Line is not null || error.Sql is not { } sql || error.InnerException is not { } inner
            || Near().Match(inner.Message) is not { Success: true } near)
        {
            return error;
        }

        var rest = near.Groups["rest"].Value;
        if (rest.Length == 0)
        {
            // The statement ended too early: the error is at the end of the text.
            return error.AtOffset(sql.TrimEnd().Length, sql);
        }

        var offset = sql.IndexOf(rest, StringComparison.Ordinal);
        if (offset < 0)
        {
            return error;
        }

        // Several statements may share the rest: prefer the one on the line MariaDB names, counted in the file.
        var line = int.Parse(near.Groups["line"].Value, CultureInfo.InvariantCulture);
        for (var candidate = offset; candidate >= 0; candidate = sql.IndexOf(rest, candidate + 1, StringComparison.Ordinal))
        {
            if (LineOf(sql, candidate) == line)
            {
                return error.AtOffset(candidate, sql);
            }
        }

        return error.AtOffset(offset, sql);
    }

    private static int LineOf(string text, int offset) => 1 + text.AsSpan(0, offset).Count('\n');

    [GeneratedRegex(@"near '(?<rest>.*)' at line (?<line>\d+)", RegexOptions.Singleline)]
    private static partial Regex Near();
}
