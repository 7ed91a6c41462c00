namespace Deflake.Sqlite;

/// <summary>
/// A small SQLite tokenizer for the rows chaos: finds the target of every INSERT/REPLACE/UPDATE/DELETE so it can be
/// qualified with <c>main.</c> (the chaos views shadow unqualified names), spots DDL statements, and lists the shadowed
/// tables a statement may read, so their views can be made before it runs.
/// </summary>
internal static class SqliteStatements
{
    /// <summary>
    /// <paramref name="Sql"/>: the text with its write targets qualified. <paramref name="Reads"/>: every shadowed table
    /// the text names other than as a write target, a column's qualifier (<c>t.x</c>) or a qualified name other than
    /// <c>temp.t</c>; spelled as in the shadowed set, each once. SQLite resolves an unqualified name only where the
    /// statement spells it, so a statement cannot read a view whose name it does not contain: the list may hold more
    /// than the statement reads (a column or CTE with a table's name), never less.
    /// </summary>
    internal readonly record struct Rewrite(string Sql, bool HasDdl, string[] Reads);

    private enum Kind
    {
        Word,
        Quoted,
        Literal,
        Open,
        Close,
        Semicolon,
        Dot,
        Other,
    }

    private readonly record struct Token(Kind Kind, int Start, int Length);

    /// <summary>
    /// Qualifies unqualified write targets found in <paramref name="shadowed"/> with <c>main.</c>; with
    /// <paramref name="inline"/> (a shadowed table's name → the <c>SELECT</c> its view would run), also replaces every
    /// read of a shadowed table that stands plainly after <c>FROM</c> or <c>JOIN</c> with that <c>SELECT</c> as a
    /// subquery under the table's name, which is what SQLite makes of a view, so that read needs no view. Lists the
    /// shadowed tables the text may still read through a view (see <see cref="Rewrite"/>). Texts with DDL are never
    /// inlined (a <c>CREATE VIEW … AS SELECT … FROM t</c> must keep its text).
    /// </summary>
    public static Rewrite QualifyWriteTargets(string sql, HashSet<string> shadowed, Func<string, string>? inline = null)
    {
        var tokens = Tokenize(sql);
        var inserts = new List<int>();
        var hasDdl = false;
        var statementStart = 0;
        for (var i = 0; i <= tokens.Count; i++)
        {
            if (i == tokens.Count || tokens[i].Kind == Kind.Semicolon)
            {
                if (i > statementStart)
                {
                    hasDdl |= Inspect(sql, tokens, statementStart, i, shadowed, inserts);
                }

                statementStart = i + 1;
            }
        }

        var edits = new List<(int At, int Remove, string Text)>(inserts.Count);
        foreach (var at in inserts)
        {
            edits.Add((at, 0, "main."));
        }

        var reads = Reads(sql, tokens, shadowed, inserts, hasDdl ? null : inline, edits);
        if (edits.Count == 0)
        {
            return new Rewrite(sql, hasDdl, reads);
        }

        edits.Sort((x, y) => x.At.CompareTo(y.At));
        var builder = new System.Text.StringBuilder(sql.Length + (edits.Count * 5));
        var last = 0;
        foreach (var (at, remove, text) in edits)
        {
            builder.Append(sql, last, at - last).Append(text);
            last = at + remove;
        }

        builder.Append(sql, last, sql.Length - last);
        return new Rewrite(builder.ToString(), hasDdl, reads);
    }

    /// <summary>
    /// The shadowed names the text spells where they can name a table to read (see <see cref="Rewrite.Reads"/>), less
    /// those inlined (added to <paramref name="edits"/>).
    /// </summary>
    private static string[] Reads(string sql, List<Token> tokens, HashSet<string> shadowed, List<int> writeTargets,
        Func<string, string>? inline, List<(int At, int Remove, string Text)> edits)
    {
        List<string>? reads = null;
        HashSet<string>? cteNames = null;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Kind is not (Kind.Word or Kind.Quoted) || !shadowed.TryGetValue(NameOf(sql, token), out var table)
                || writeTargets.Contains(token.Start)
                || (i + 1 < tokens.Count && tokens[i + 1].Kind == Kind.Dot))
            {
                continue;
            }

            // "x.t" names t in schema x: only temp.t can be the view.
            if (i > 0 && tokens[i - 1].Kind == Kind.Dot
                && !(i > 1 && tokens[i - 2].Kind is Kind.Word or Kind.Quoted && string.Equals(NameOf(sql, tokens[i - 2]), "temp", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            if (inline is not null && InlineAlias(sql, tokens, i, cteNames ??= CteNames(sql, tokens)) is { } alias)
            {
                edits.Add((token.Start, token.Length, "(" + inline(table) + ")" + (alias ? "" : " AS " + QuoteName(table))));
                continue;
            }

            reads ??= [];
            if (!reads.Contains(table, StringComparer.Ordinal))
            {
                reads.Add(table);
            }
        }

        return reads is null ? [] : [.. reads];
    }

    /// <summary>
    /// Whether the name at <paramref name="i"/> can be replaced by a subquery: it stands right after <c>FROM</c> (not
    /// <c>IS [NOT] DISTINCT FROM</c>) or <c>JOIN</c>, names no CTE of the text, and what follows is an alias (true: the
    /// subquery needs no alias of its own) or ends the table reference (false: it gets the table's name as alias).
    /// Null: leave it to the view (<c>INDEXED BY</c>, <c>NOT INDEXED</c>, a table-valued call, anything unexpected).
    /// </summary>
    private static bool? InlineAlias(string sql, List<Token> tokens, int i, HashSet<string> cteNames)
    {
        if (i == 0 || !(Is(sql, tokens[i - 1], "FROM") || Is(sql, tokens[i - 1], "JOIN"))
            || (Is(sql, tokens[i - 1], "FROM") && i > 1 && Is(sql, tokens[i - 2], "DISTINCT"))
            || cteNames.Contains(NameOf(sql, tokens[i])))
        {
            return null;
        }

        if (i + 1 == tokens.Count || tokens[i + 1].Kind is Kind.Semicolon or Kind.Close
            || (tokens[i + 1].Kind == Kind.Other && sql[tokens[i + 1].Start] == ','))
        {
            return false;
        }

        var next = tokens[i + 1];
        if (next.Kind == Kind.Quoted)
        {
            return true;
        }

        if (next.Kind != Kind.Word)
        {
            return null;
        }

        var word = sql.Substring(next.Start, next.Length);
        if (string.Equals(word, "AS", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (EndsTableReference.Contains(word))
        {
            return false;
        }

        return Keywords.Contains(word) ? null : true;
    }

    /// <summary>Names the text defines as common table expressions (<c>name AS (</c>, <c>name (columns) AS (</c>).</summary>
    private static HashSet<string> CteNames(string sql, List<Token> tokens)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i + 1 < tokens.Count; i++)
        {
            if (tokens[i].Kind is not (Kind.Word or Kind.Quoted))
            {
                continue;
            }

            var j = i + 1;
            if (tokens[j].Kind == Kind.Open)
            {
                while (j < tokens.Count && tokens[j].Kind != Kind.Close)
                {
                    j++;
                }

                j++;
            }

            if (j + 1 < tokens.Count && Is(sql, tokens[j], "AS")
                && (tokens[j + 1].Kind == Kind.Open || Is(sql, tokens[j + 1], "MATERIALIZED") || Is(sql, tokens[j + 1], "NOT")))
            {
                names.Add(NameOf(sql, tokens[i]));
            }
        }

        return names;
    }

    private static string QuoteName(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>Keywords that end a table reference in a FROM clause (what follows is no alias).</summary>
    private static readonly HashSet<string> EndsTableReference = new(StringComparer.OrdinalIgnoreCase)
    {
        "ON", "USING", "WHERE", "GROUP", "HAVING", "WINDOW", "ORDER", "LIMIT", "JOIN", "LEFT", "RIGHT", "FULL", "INNER",
        "CROSS", "NATURAL", "UNION", "INTERSECT", "EXCEPT", "RETURNING",
    };

    /// <summary>SQLite's keywords (https://sqlite.org/lang_keywords.html): a word among them after a table is no alias to trust.</summary>
    private static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase)
    {
        "ABORT", "ACTION", "ADD", "AFTER", "ALL", "ALTER", "ALWAYS", "ANALYZE", "AND", "AS", "ASC", "ATTACH", "AUTOINCREMENT",
        "BEFORE", "BEGIN", "BETWEEN", "BY", "CASCADE", "CASE", "CAST", "CHECK", "COLLATE", "COLUMN", "COMMIT", "CONFLICT",
        "CONSTRAINT", "CREATE", "CROSS", "CURRENT", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "DATABASE", "DEFAULT",
        "DEFERRABLE", "DEFERRED", "DELETE", "DESC", "DETACH", "DISTINCT", "DO", "DROP", "EACH", "ELSE", "END", "ESCAPE",
        "EXCEPT", "EXCLUDE", "EXCLUSIVE", "EXISTS", "EXPLAIN", "FAIL", "FILTER", "FIRST", "FOLLOWING", "FOR", "FOREIGN",
        "FROM", "FULL", "GENERATED", "GLOB", "GROUP", "GROUPS", "HAVING", "IF", "IGNORE", "IMMEDIATE", "IN", "INDEX",
        "INDEXED", "INITIALLY", "INNER", "INSERT", "INSTEAD", "INTERSECT", "INTO", "IS", "ISNULL", "JOIN", "KEY", "LAST",
        "LEFT", "LIKE", "LIMIT", "MATCH", "MATERIALIZED", "NATURAL", "NO", "NOT", "NOTHING", "NOTNULL", "NULL", "NULLS",
        "OF", "OFFSET", "ON", "OR", "ORDER", "OTHERS", "OUTER", "OVER", "PARTITION", "PLAN", "PRAGMA", "PRECEDING",
        "PRIMARY", "QUERY", "RAISE", "RANGE", "RECURSIVE", "REFERENCES", "REGEXP", "REINDEX", "RELEASE", "RENAME",
        "REPLACE", "RESTRICT", "RETURNING", "RIGHT", "ROLLBACK", "ROW", "ROWS", "SAVEPOINT", "SELECT", "SET", "TABLE",
        "TEMP", "TEMPORARY", "THEN", "TIES", "TO", "TRANSACTION", "TRIGGER", "UNBOUNDED", "UNION", "UNIQUE", "UPDATE",
        "USING", "VACUUM", "VALUES", "VIEW", "VIRTUAL", "WHEN", "WHERE", "WINDOW", "WITH", "WITHOUT",
    };

    private static bool Inspect(string sql, List<Token> tokens, int from, int to, HashSet<string> shadowed, List<int> inserts)
    {
        var i = from;
        if (Is(sql, tokens[i], "EXPLAIN"))
        {
            i++;
            if (i + 1 < to && Is(sql, tokens[i], "QUERY") && Is(sql, tokens[i + 1], "PLAN"))
            {
                i += 2;
            }
        }

        if (i >= to)
        {
            return false;
        }

        if (Is(sql, tokens[i], "CREATE") || Is(sql, tokens[i], "ALTER") || Is(sql, tokens[i], "DROP"))
        {
            return true;
        }

        if (Is(sql, tokens[i], "WITH"))
        {
            // Skip the common table expressions: the statement's verb is the next keyword at depth 0.
            var depth = 0;
            for (i++; i < to; i++)
            {
                var kind = tokens[i].Kind;
                if (kind == Kind.Open)
                {
                    depth++;
                }
                else if (kind == Kind.Close)
                {
                    depth--;
                }
                else if (depth == 0 && kind == Kind.Word && (Is(sql, tokens[i], "INSERT") || Is(sql, tokens[i], "REPLACE")
                    || Is(sql, tokens[i], "UPDATE") || Is(sql, tokens[i], "DELETE") || Is(sql, tokens[i], "SELECT") || Is(sql, tokens[i], "VALUES")))
                {
                    break;
                }
            }

            if (i >= to)
            {
                return false;
            }
        }

        var verb = tokens[i];
        i++;
        if (Is(sql, verb, "INSERT") || Is(sql, verb, "UPDATE"))
        {
            if (i + 1 < to && Is(sql, tokens[i], "OR"))
            {
                i += 2;
            }

            if (Is(sql, verb, "INSERT"))
            {
                if (i >= to || !Is(sql, tokens[i], "INTO"))
                {
                    return false;
                }

                i++;
            }
        }
        else if (Is(sql, verb, "REPLACE") || Is(sql, verb, "DELETE"))
        {
            if (i >= to || !(Is(sql, tokens[i], "INTO") || Is(sql, tokens[i], "FROM")))
            {
                return false;
            }

            i++;
        }
        else
        {
            return false;
        }

        if (i < to && tokens[i].Kind is Kind.Word or Kind.Quoted && !(i + 1 < to && tokens[i + 1].Kind == Kind.Dot)
            && shadowed.Contains(NameOf(sql, tokens[i])))
        {
            inserts.Add(tokens[i].Start);
        }

        return false;
    }

    /// <summary>Whether <paramref name="keyword"/> occurs as a word outside strings, quoted names and comments.</summary>
    public static bool ContainsKeyword(string sql, string keyword)
        => Tokenize(sql).Exists(t => Is(sql, t, keyword));

    private static bool Is(string sql, Token token, string keyword)
        => token.Kind == Kind.Word && token.Length == keyword.Length
           && string.Compare(sql, token.Start, keyword, 0, keyword.Length, StringComparison.OrdinalIgnoreCase) == 0;

    private static string NameOf(string sql, Token token)
    {
        if (token.Kind == Kind.Word)
        {
            return sql.Substring(token.Start, token.Length);
        }

        var quote = sql[token.Start];
        var close = quote == '[' ? "]" : quote.ToString();
        var inner = sql.Substring(token.Start + 1, token.Length - 2);
        return quote == '[' ? inner : inner.Replace(close + close, close, StringComparison.Ordinal);
    }

    private static List<Token> Tokenize(string sql)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
            {
                var end = sql.IndexOf('\n', i);
                i = end < 0 ? sql.Length : end + 1;
            }
            else if (c == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
            {
                var end = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? sql.Length : end + 2;
            }
            else if (c is '"' or '`' or '[' or '\'')
            {
                var close = c == '[' ? ']' : c;
                var j = i + 1;
                while (j < sql.Length)
                {
                    if (sql[j] == close)
                    {
                        if (close != ']' && j + 1 < sql.Length && sql[j + 1] == close)
                        {
                            j += 2;
                            continue;
                        }

                        break;
                    }

                    j++;
                }

                var length = Math.Min(j + 1, sql.Length) - i;
                tokens.Add(new Token(c == '\'' ? Kind.Literal : Kind.Quoted, i, length));
                i += length;
            }
            else if (char.IsLetter(c) || c == '_')
            {
                var j = i + 1;
                while (j < sql.Length && (char.IsLetterOrDigit(sql[j]) || sql[j] is '_' or '$'))
                {
                    j++;
                }

                tokens.Add(new Token(Kind.Word, i, j - i));
                i = j;
            }
            else
            {
                var kind = c switch
                {
                    '(' => Kind.Open,
                    ')' => Kind.Close,
                    ';' => Kind.Semicolon,
                    '.' => Kind.Dot,
                    _ => Kind.Other,
                };
                tokens.Add(new Token(kind, i, 1));
                i++;
            }
        }

        return tokens;
    }
}
