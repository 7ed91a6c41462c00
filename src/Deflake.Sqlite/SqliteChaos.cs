using System.Data;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Deflake.Sqlite;

/// <summary>
/// Chaos that lives in the SQLite template: every AUTOINCREMENT table's next id starts in its own seeded range
/// (see <see cref="IdentityRangePlan"/>), set through <c>sqlite_sequence</c>. Rowid tables without AUTOINCREMENT
/// keep no counter (their next id is the largest rowid + 1), so they are reported as not covered.
/// </summary>
internal static class SqliteTemplateChaos
{
    public static async Task ApplyAsync(SqliteConnection connection, TemplateRequest request, ILogger logger, CancellationToken cancellationToken)
    {
        if (!request.Chaos.HasFlag(ChaosModes.Identities))
        {
            return;
        }

        var (autoIncrement, _) = await InspectAsync(connection, cancellationToken).ConfigureAwait(false);
        var plan = IdentityRangePlan.Create(request.Seed, autoIncrement);
        foreach (var table in autoIncrement)
        {
            var start = plan.StartOf(table);
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                // sqlite_sequence holds one row per AUTOINCREMENT table that has had an insert; the next id is seq + 1.
                // Seed data keeps its ids; only a counter below the range is raised.
                command.CommandText =
                    "UPDATE sqlite_sequence SET seq = @seq WHERE name = @name AND seq < @seq;" +
                    "INSERT INTO sqlite_sequence (name, seq) SELECT @name, @seq WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = @name);";
                command.Parameters.AddWithValue("@name", table);
                command.Parameters.AddWithValue("@seq", start - 1);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        logger.LogDebug("Deflake identities: {Count} AUTOINCREMENT table(s) moved to seeded ranges (seed {Seed})", autoIncrement.Count, request.Seed);
    }

    /// <summary>
    /// Why a rowid table without AUTOINCREMENT is not covered: SQLite keeps no counter for it (its next id is the largest
    /// rowid + 1), and there is no sound way to move it without leaving a row behind.
    /// </summary>
    public const string NoCounter = "no counter: INTEGER PRIMARY KEY without AUTOINCREMENT";

    /// <summary>Reads what identities did to a template (built now or earlier) without changing it.</summary>
    public static async Task<IdentityChaosReport> ReportAsync(SqliteConnection connection, ChaosModes chaos, int seed, CancellationToken cancellationToken)
    {
        if (!chaos.HasFlag(ChaosModes.Identities))
        {
            return IdentityChaosReport.Empty;
        }

        var (autoIncrement, rowidOnly) = await InspectAsync(connection, cancellationToken).ConfigureAwait(false);
        var plan = IdentityRangePlan.Create(seed, autoIncrement);
        return new IdentityChaosReport(plan.Starts,
            [.. rowidOnly.Select(t => new NotCoveredKey(t, NoCounter))]);
    }

    /// <summary>AUTOINCREMENT tables, and tables whose INTEGER PRIMARY KEY is a plain rowid alias.</summary>
    private static async Task<(List<string> AutoIncrement, List<string> RowidOnly)> InspectAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        var tables = new List<(string Name, string Sql)>();
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.CommandText = "SELECT name, sql FROM main.sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name";
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    tables.Add((reader.GetString(0), reader.GetString(1)));
                }
            }
        }

        var autoIncrement = new List<string>();
        var rowidOnly = new List<string>();
        foreach (var (name, sql) in tables)
        {
            if (SqliteStatements.ContainsKeyword(sql, "AUTOINCREMENT"))
            {
                autoIncrement.Add(name);
            }
            else if (!SqliteStatements.ContainsKeyword(sql, "WITHOUT") && await HasRowidAliasAsync(connection, name, cancellationToken).ConfigureAwait(false))
            {
                rowidOnly.Add(name);
            }
        }

        return (autoIncrement, rowidOnly);
    }

    private static async Task<bool> HasRowidAliasAsync(SqliteConnection connection, string table, CancellationToken cancellationToken)
    {
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.CommandText = "SELECT type, pk FROM pragma_table_info(@table, 'main')";
            command.Parameters.AddWithValue("@table", table);
            var keys = new List<string>();
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (reader.GetInt64(1) > 0)
                    {
                        keys.Add(reader.GetString(0));
                    }
                }
            }

            return keys.Count == 1 && string.Equals(keys[0], "INTEGER", StringComparison.OrdinalIgnoreCase);
        }
    }
}

/// <summary>
/// Row-order chaos settings shared by the chaos connections of one engine: the seed, the statement rewrites
/// (<see cref="SqliteRewriteCaches"/>), so a statement is tokenized once per set of shadowed tables, not once per test,
/// and the tables to shadow per template.
/// </summary>
internal sealed class SqliteRowChaosSettings(int seed, ILogger logger)
{
    public int Seed { get; } = seed;

    public ILogger Logger { get; } = logger;

    public SqliteRewriteCaches Rewrites { get; } = new();

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _viewSql = new(StringComparer.Ordinal);

    /// <summary><see cref="SqliteRowChaos.ViewSql"/> for this seed, worked out once per table name (at most 4096 kept).</summary>
    public string ViewSql(string table)
    {
        if (_viewSql.TryGetValue(table, out var sql))
        {
            return sql;
        }

        sql = SqliteRowChaos.ViewSql(table, Seed);
        if (_viewSql.Count < 4096)
        {
            _viewSql.TryAdd(table, sql);
        }

        return sql;
    }

    /// <summary>
    /// Whether reads that stand plainly after FROM or JOIN get <see cref="ShuffleSql"/> as a subquery in place of the
    /// table (the default), or go through the table's view like every other read. Off only to test the views; set it
    /// before the first statement runs (statement plans are cached).
    /// </summary>
    internal bool InlineReads { get; set; } = true;

    /// <summary><see cref="SqliteRowChaos.ShuffleSql"/> for this seed: what a statement gets in place of a table it reads.</summary>
    public string ShuffleSql(string table) => SqliteRowChaos.ShuffleSql(table, Seed);

    /// <summary>At most this many templates' table sets are kept (one per template the engine clones).</summary>
    public const int MaxTableSets = 32;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SqliteTableSet> _tableSets = new(StringComparer.Ordinal);

    internal int TableSetCount => _tableSets.Count;

    /// <summary>
    /// The tables to shadow in a clone of <paramref name="template"/> whose <c>main</c> schema_version is still the
    /// template's: a clone starts as a copy of the (never changed) template file, and any schema change since bumps
    /// schema_version, so an equal value means the same tables. Null when there is none for that version yet.
    /// </summary>
    public SqliteTableSet? TablesFor(string template, long schemaVersion)
        => _tableSets.TryGetValue(template, out var tables) && tables.SchemaVersion == schemaVersion ? tables : null;

    public void AddTables(string template, SqliteTableSet tables)
    {
        if (_tableSets.Count < MaxTableSets || _tableSets.ContainsKey(template))
        {
            _tableSets[template] = tables;
        }
    }
}

/// <summary>
/// The tables rows chaos shadows in one schema (<see cref="SchemaVersion"/> of <c>main</c>) and their rewrite cache:
/// what the first clone of a template worked out, for the rest.
/// </summary>
internal sealed record SqliteTableSet(long SchemaVersion, HashSet<string> Tables, SqliteRewriteCache Rewrites);

/// <summary>A statement text as a chaos command runs it: its write targets qualified, and the shadowed tables it may read.</summary>
internal sealed record SqliteStatementPlan(string Sql, string[] Reads)
{
    public static SqliteStatementPlan Unchanged(string sql) => new(sql, []);
}

/// <summary>
/// Statement plans (<see cref="SqliteStatements.QualifyWriteTargets"/>), one cache per exact set of shadowed table
/// names: a plan depends on which names are shadowed, so a connection only ever reads the cache of its own set
/// (clones of one template share one). Bounded: at most <see cref="MaxSets"/> sets (further sets get a cache of their
/// own that is not shared) and <see cref="SqliteRewriteCache.MaxEntries"/> statements per set.
/// </summary>
internal sealed class SqliteRewriteCaches
{
    public const int MaxSets = 32;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SqliteRewriteCache> _bySet = new(StringComparer.Ordinal);

    internal int Count => _bySet.Count;

    /// <summary>The cache for exactly these shadowed tables.</summary>
    public SqliteRewriteCache For(IReadOnlyCollection<string> shadowed)
    {
        var names = shadowed.ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        // Names come from sqlite_schema, spelled as created; NUL cannot occur in them, so the key is unambiguous.
        var key = string.Join('\0', names);
        if (_bySet.TryGetValue(key, out var cache))
        {
            return cache;
        }

        return _bySet.Count < MaxSets ? _bySet.GetOrAdd(key, k => new SqliteRewriteCache(k)) : new SqliteRewriteCache(key);
    }
}

/// <summary>Plans of statement texts for one set of shadowed tables (<see cref="Key"/>); thread-safe.</summary>
internal sealed class SqliteRewriteCache(string key)
{
    public const int MaxEntries = 4096;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SqliteStatementPlan> _plans = new(StringComparer.Ordinal);

    /// <summary>The shadowed table names, sorted, separated by NUL.</summary>
    public string Key { get; } = key;

    internal int Count => _plans.Count;

    public bool TryGet(string sql, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SqliteStatementPlan? plan) => _plans.TryGetValue(sql, out plan);

    public void Add(string sql, SqliteStatementPlan plan)
    {
        if (_plans.Count < MaxEntries)
        {
            _plans.TryAdd(sql, plan);
        }
    }
}

/// <summary>
/// Chaos applied to every connection Deflake opens or configures. Under <see cref="ChaosModes.Rows"/> the engine
/// hands out <see cref="ChaosSqliteConnection"/>s; otherwise plain <see cref="SqliteConnection"/>s.
/// </summary>
internal static class SqliteRowChaos
{
    public static SqliteConnection Create(string connectionString, EngineContext context, SqliteRowChaosSettings settings, string? template = null)
        => context.Chaos.HasFlag(ChaosModes.Rows)
            ? new ChaosSqliteConnection(connectionString, settings, template)
            : new SqliteConnection(connectionString);

    /// <summary>
    /// Opens a fresh clone's chaos handle ahead of its test, off the test's critical path: one chaos connection is
    /// opened (which works out the tables to shadow and records them for the handle), the schema of <c>main</c> is
    /// loaded, and the connection is closed, so its pooled handle (chaos connections have a pool of their own) goes to
    /// the test's first connection, whose <see cref="ChaosSqliteConnection.Open"/> only checks two schema cookies. No
    /// view is made here: each is made on the handle when a statement first names its table.
    /// </summary>
    public static void Prepare(string connectionString, SqliteRowChaosSettings settings, string? template = null)
    {
        using var connection = new ChaosSqliteConnection(connectionString, settings, template);
        connection.Open();
        SqliteEngine.MakeDisposable(connection);
        connection.LoadSchema();
    }

    /// <summary>
    /// The <c>SELECT</c> behind the shuffle of <paramref name="table"/>. Its ORDER BY is a seeded permutation that never
    /// equals rowid (insertion) order when two or more rows come back: rows at or above a seeded pivot strictly above
    /// the smallest rowid come first, each part in seeded hash order. So the natural first row is never first (a LIMIT 1
    /// pick changes) and the whole order always changes. A statement gets it as a subquery in place of the table, or
    /// through the view <see cref="ViewSql"/>.
    /// </summary>
    public static string ShuffleSql(string table, int seed)
    {
        const long prime = 2_147_483_647;
        var q = Quote(table);
        var pivot = ChaosSeed.Derive(seed, "rows:pivot:" + table, 1, prime);
        var a = ChaosSeed.Derive(seed, "rows:a:" + table, 1, prime);
        var b = ChaosSeed.Derive(seed, "rows:b:" + table, 0, prime);
        return string.Create(CultureInfo.InvariantCulture,
            $"SELECT * /* deflake rows chaos */ FROM main.{q} ORDER BY " +
            $"(rowid >= (SELECT min(rowid) + 1 + ({pivot} % max(max(rowid) - min(rowid), 1)) FROM main.{q})) DESC, " +
            $"((rowid % {prime}) * {a} + {b}) % {prime}");
    }

    /// <summary>The TEMP view that shadows <paramref name="table"/> for unqualified names on one connection: <see cref="ShuffleSql"/>.</summary>
    public static string ViewSql(string table, int seed) => $"CREATE TEMP VIEW IF NOT EXISTS {Quote(table)} AS {ShuffleSql(table, seed)}";

    /// <summary>
    /// The connection string of chaos connections: the clone's, with its default timeout spelled out. That makes it a
    /// pool of its own, so a pooled handle that carries TEMP views only ever goes back to a chaos connection.
    /// </summary>
    public static string PooledConnectionString(string connectionString)
    {
        if (s_pooled.TryGetValue(connectionString, out var pooled))
        {
            return pooled;
        }

        var builder = new SqliteConnectionStringBuilder(connectionString);
        builder.DefaultTimeout = builder.DefaultTimeout;
        pooled = builder.ToString();
        if (s_pooled.Count >= MaxPooledConnectionStrings)
        {
            s_pooled.Clear();
        }

        s_pooled[connectionString] = pooled;
        return pooled;
    }

    /// <summary>Closes the pooled chaos connections of a clone (before it is dropped or kept).</summary>
    public static void ClearPool(string connectionString)
    {
        using var connection = new SqliteConnection(PooledConnectionString(connectionString));
        SqliteConnection.ClearPool(connection);
        s_pooled.TryRemove(connectionString, out _);
    }

    /// <summary>
    /// <see cref="PooledConnectionString"/> per clone connection string: parsing one costs more than the rest of a
    /// reopen. An entry is removed when its clone's pool is cleared; the cache is emptied if it ever fills up.
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> s_pooled = new(StringComparer.Ordinal);

    private const int MaxPooledConnectionStrings = 1024;

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
