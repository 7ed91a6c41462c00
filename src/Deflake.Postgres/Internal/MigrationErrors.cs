using System.Text.RegularExpressions;
using Npgsql;

namespace Deflake.Postgres.Internal;

/// <summary>Where in a migration's SQL PostgreSQL stopped: its error position (a character offset) as line and column.</summary>
internal static partial class MigrationErrors
{
    /// <summary>
    /// <paramref name="error"/> located, when PostgreSQL gave a position. Npgsql sends a text of several statements as
    /// one statement each, so the position counts from the start of the failing statement, which it does not name:
    /// each statement start (the text's, and after each semicolon, past blanks and comments) is tried, and the one whose
    /// position lands on what the message quotes (<c>at or near "wher"</c>, <c>relation "x"</c>) wins. For EF Core
    /// (no file) the failing command itself is the text. No match: the error names the file only.
    /// </summary>
    public static TemplateBuildException Locate(TemplateBuildException error)
    {
        if (error.Line is not null || error.InnerException is not PostgresException { Position: > 0 } postgres)
        {
            return error;
        }

        var sql = error.Sql ?? postgres.BatchCommand?.CommandText;
        if (sql is null)
        {
            return error;
        }

        var quoted = Quoted().Match(postgres.MessageText);
        foreach (var start in StatementStarts(sql))
        {
            var offset = start + postgres.Position - 1;
            if (offset >= sql.Length)
            {
                continue;
            }

            if (!quoted.Success || At(sql, offset, quoted.Groups[1].Value))
            {
                return error.AtOffset(offset, sql);
            }
        }

        return error;
    }

    /// <summary>Whether <paramref name="sql"/> at <paramref name="offset"/> reads <paramref name="token"/>, quoted or not, in any case.</summary>
    private static bool At(string sql, int offset, string token)
    {
        var rest = sql.AsSpan(offset);
        return rest.StartsWith(token, StringComparison.OrdinalIgnoreCase)
            || (rest.Length > 1 && rest[0] == '"' && rest[1..].StartsWith(token, StringComparison.Ordinal));
    }

    /// <summary>Where a statement may start: the text's start and after every semicolon, each past blanks, and also past comments.</summary>
    internal static IEnumerable<int> StatementStarts(string sql)
    {
        var seen = new HashSet<int>();
        for (var end = -1; ; end = sql.IndexOf(';', end + 1))
        {
            var start = SkipBlanks(sql, end + 1);
            if (seen.Add(start))
            {
                yield return start;
            }

            var code = SkipBlanksAndComments(sql, start);
            if (seen.Add(code))
            {
                yield return code;
            }

            if (end + 1 >= sql.Length || sql.IndexOf(';', end + 1) < 0)
            {
                yield break;
            }
        }
    }

    private static int SkipBlanks(string sql, int at)
    {
        while (at < sql.Length && char.IsWhiteSpace(sql[at]))
        {
            at++;
        }

        return at;
    }

    private static int SkipBlanksAndComments(string sql, int at)
    {
        while (true)
        {
            at = SkipBlanks(sql, at);
            if (sql.AsSpan(at).StartsWith("--", StringComparison.Ordinal))
            {
                var end = sql.IndexOf('\n', at);
                at = end < 0 ? sql.Length : end + 1;
            }
            else if (sql.AsSpan(at).StartsWith("/*", StringComparison.Ordinal))
            {
                var end = sql.IndexOf("*/", at + 2, StringComparison.Ordinal);
                at = end < 0 ? sql.Length : end + 2;
            }
            else
            {
                return at;
            }
        }
    }

    [GeneratedRegex("\"([^\"]+)\"")]
    private static partial Regex Quoted();
}
