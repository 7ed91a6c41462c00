using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Deflake.Sqlite;

/// <summary>
/// Where in a migration's SQL SQLite stopped. SQLite reports no offset to Microsoft.Data.Sqlite, so the file's text is
/// split into statements the way SQLite reads them (<c>sqlite3_complete</c>), and each is prepared again on the
/// build's connection (preparing changes nothing): the first that fails with the same error is the one, and a syntax
/// error's <c>near "TOKEN"</c> gives the column. An error only running can raise (a constraint) names the file only.
/// </summary>
internal static class SqliteMigrationErrors
{
    /// <summary><paramref name="error"/> located, when the statement that fails is found.</summary>
    public static TemplateBuildException Locate(TemplateBuildException error, SqliteConnection connection)
    {
        if (error.Line is not null || error.Sql is not { } sql || error.InnerException is not SqliteException sqlite
            || connection.Handle is not { } handle || Quoted(sqlite.Message) is not { } message)
        {
            return error;
        }

        foreach (var (start, length) in Statements(sql))
        {
            var statement = sql.Substring(start, length);
            var rc = raw.sqlite3_prepare_v2(handle, statement, out var prepared);
            prepared?.Dispose();
            if (rc == raw.SQLITE_OK || raw.sqlite3_errmsg(handle).utf8_to_string() != message)
            {
                continue;
            }

            var at = start + (statement.Length - statement.TrimStart().Length);
            if (Ascii.IsValid(statement) && ErrorOffset(handle) is { } offset && offset < statement.Length)
            {
                return error.AtOffset(start + offset, sql);
            }

            // No offset (SQLite gives one for syntax errors only): the name the message ends with, or its near "TOKEN".
            var token = message.StartsWith("near \"", StringComparison.Ordinal) && message.IndexOf('"', 6) is > 6 and var end
                ? message[6..end]
                : message.LastIndexOf(": ", StringComparison.Ordinal) is > 0 and var colon ? message[(colon + 2)..] : null;
            var found = token is null ? -1 : statement.IndexOf(token, at - start, StringComparison.OrdinalIgnoreCase);
            if (found > 0 && statement[found - 1] is '"' or '`' or '[' or '\'')
            {
                found--;
            }

            at = found >= 0 ? start + found : at;
            return error.AtOffset(at, sql);
        }

        return error;
    }

    /// <summary>
    /// <c>sqlite3_error_offset</c> of the bundled SQLite (3.38 and later; SQLitePCLRaw does not wrap it): the byte offset
    /// in the statement where the last error was found, or null when SQLite cannot say or the function is missing.
    /// Converted to characters by the caller only for ASCII statements, where both are the same.
    /// </summary>
    private static int? ErrorOffset(sqlite3 handle)
    {
        try
        {
            var offset = NativeErrorOffset(handle.DangerousGetHandle());
            return offset >= 0 ? offset : null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return null;
        }
    }

    [DllImport("e_sqlite3", EntryPoint = "sqlite3_error_offset")]
    private static extern int NativeErrorOffset(IntPtr db);

    /// <summary>The statements of <paramref name="sql"/> as (start, length), each ending after its semicolon.</summary>
    internal static IEnumerable<(int Start, int Length)> Statements(string sql)
    {
        var start = 0;
        for (var i = sql.IndexOf(';', StringComparison.Ordinal); i >= 0; i = sql.IndexOf(';', i + 1))
        {
            var candidate = sql[start..(i + 1)];
            if (raw.sqlite3_complete(candidate) != 0)
            {
                if (!string.IsNullOrWhiteSpace(candidate))
                {
                    yield return (start, i + 1 - start);
                }

                start = i + 1;
            }
        }

        if (!string.IsNullOrWhiteSpace(sql[start..]))
        {
            yield return (start, sql.Length - start);
        }
    }

    /// <summary>SQLite's own message inside Microsoft.Data.Sqlite's "SQLite Error N: 'message'." text.</summary>
    private static string? Quoted(string text)
    {
        var first = text.IndexOf('\'', StringComparison.Ordinal);
        var last = text.LastIndexOf('\'');
        return first >= 0 && last > first ? text[(first + 1)..last] : null;
    }
}
