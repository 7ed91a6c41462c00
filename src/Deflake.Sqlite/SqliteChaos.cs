using System.Data;
using System.Globalization;
using System.Text;
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
            [.. rowidOnly.Select(t => $"{t} (INTEGER PRIMARY KEY without AUTOINCREMENT: SQLite keeps no counter, the next id is the largest rowid + 1)")]);
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
/// Row-order chaos settings shared by the chaos connections of one engine: the seed, and the statement rewrites
/// (<see cref="SqliteRewriteCaches"/>), so a statement is tokenized once per set of shadowed tables, not once per test.
/// </summary>
internal sealed class SqliteRowChaosSettings(int seed, ILogger logger)
{
    public int Seed { get; } = seed;

    public ILogger Logger { get; } = logger;

    public SqliteRewriteCaches Rewrites { get; } = new();

    /// <summary>At most this many templates' view scripts are kept (one per template the engine clones).</summary>
    public const int MaxScripts = 32;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SqliteViewScript> _scripts = new(StringComparer.Ordinal);

    internal int ScriptCount => _scripts.Count;

    /// <summary>
    /// The views of a clone of <paramref name="template"/> whose <c>main</c> schema_version is still the template's: a
    /// clone starts as a copy of the (never changed) template file, and any schema change since bumps schema_version, so
    /// an equal value means the same tables. Null when there is none for that version yet.
    /// </summary>
    public SqliteViewScript? ScriptFor(string template, long schemaVersion)
        => _scripts.TryGetValue(template, out var script) && script.SchemaVersion == schemaVersion ? script : null;

    public void AddScript(string template, SqliteViewScript script)
    {
        if (_scripts.Count < MaxScripts || _scripts.ContainsKey(template))
        {
            _scripts[template] = script;
        }
    }
}

/// <summary>
/// The statements that make a fresh handle's views for one schema (<see cref="SchemaVersion"/> of a template), the
/// tables they shadow and those tables' rewrite cache: what the first clone of a template worked out, for the rest.
/// </summary>
internal sealed record SqliteViewScript(long SchemaVersion, string Sql, HashSet<string> Shadowed, SqliteRewriteCache? Rewrites);

/// <summary>
/// Rewritten statement texts (<see cref="SqliteStatements.QualifyWriteTargets"/>), one cache per exact set of shadowed
/// table names: a rewrite depends on which names are shadowed, so a connection only ever reads the cache of its own set
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

/// <summary>Rewrites of statement texts for one set of shadowed tables (<see cref="Key"/>); thread-safe.</summary>
internal sealed class SqliteRewriteCache(string key)
{
    public const int MaxEntries = 4096;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _rewrites = new(StringComparer.Ordinal);

    /// <summary>The shadowed table names, sorted, separated by NUL.</summary>
    public string Key { get; } = key;

    internal int Count => _rewrites.Count;

    public bool TryGet(string sql, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? rewrite) => _rewrites.TryGetValue(sql, out rewrite);

    public void Add(string sql, string rewrite)
    {
        if (_rewrites.Count < MaxEntries)
        {
            _rewrites.TryAdd(sql, rewrite);
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
    /// Makes the views of a fresh clone ahead of its test, off the test's critical path: opens one chaos connection and
    /// closes it, so its pooled handle (chaos connections have a pool of their own) already carries the TEMP views
    /// when the test opens its first connection, and <see cref="ChaosSqliteConnection.Open"/> only checks them.
    /// </summary>
    public static void Prepare(string connectionString, SqliteRowChaosSettings settings, string? template = null)
    {
        using var connection = new ChaosSqliteConnection(connectionString, settings, template);
        connection.Open();
    }

    /// <summary>
    /// The view that shadows <paramref name="table"/> for unqualified names on one connection. Its ORDER BY is a
    /// seeded permutation that never equals rowid (insertion) order when two or more rows come back: rows at or
    /// above a seeded pivot strictly above the smallest rowid come first, each part in seeded hash order. So the
    /// natural first row is never first (a LIMIT 1 pick changes) and the whole order always changes.
    /// </summary>
    public static string ViewSql(string table, int seed)
    {
        const long prime = 2_147_483_647;
        var q = Quote(table);
        var pivot = ChaosSeed.Derive(seed, "rows:pivot:" + table, 1, prime);
        var a = ChaosSeed.Derive(seed, "rows:a:" + table, 1, prime);
        var b = ChaosSeed.Derive(seed, "rows:b:" + table, 0, prime);
        return string.Create(CultureInfo.InvariantCulture,
            $"CREATE TEMP VIEW {q} AS SELECT * /* deflake rows chaos */ FROM main.{q} ORDER BY " +
            $"(rowid >= (SELECT min(rowid) + 1 + ({pivot} % max(max(rowid) - min(rowid), 1)) FROM main.{q})) DESC, " +
            $"((rowid % {prime}) * {a} + {b}) % {prime}");
    }

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

/// <summary>
/// A SQLite connection with row-order chaos: once open, every table of <c>main</c> that has a rowid is shadowed by
/// a TEMP view of the same name whose ORDER BY is a seeded shuffle (<see cref="SqliteRowChaos.ViewSql"/>), so
/// unqualified reads see the shuffle, including which row <c>LIMIT 1</c> picks. Commands made by
/// <see cref="CreateCommand"/> send writes to the table itself (their target is qualified with <c>main.</c>),
/// toggle <c>PRAGMA reverse_unordered_selects</c> per statement from the seed (joins, ties, WITHOUT ROWID tables),
/// and lift the views around DDL.
/// </summary>
internal sealed class ChaosSqliteConnection : SqliteConnection
{
    private readonly SqliteRowChaosSettings _settings;
    private SqliteRewriteCache? _rewrites;
    private HashSet<string> _shadowed = new(StringComparer.OrdinalIgnoreCase);
    private long _executions;
    private bool? _reverse;

    /// <summary>The template this database was cloned from (its path), if known: see <see cref="SqliteRowChaosSettings.ScriptFor"/>.</summary>
    private readonly string? _template;

    public ChaosSqliteConnection(string connectionString, SqliteRowChaosSettings settings, string? template = null)
        // A pool of its own: the TEMP views stay on the pooled handle and are reused when the schema has not changed.
        : base(SqliteRowChaos.PooledConnectionString(connectionString))
    {
        _settings = settings;
        _template = template;
    }

    internal IReadOnlySet<string> Shadowed => _shadowed;

    /// <summary>Whether the last <see cref="Open"/> had to make the views (false: the pooled handle already carried them).</summary>
    internal bool MadeViewsOnOpen { get; private set; }

    /// <summary>The rewrite cache of the current set of shadowed tables (null until needed).</summary>
    internal SqliteRewriteCache? Rewrites => _rewrites;

    public override void Open()
    {
        base.Open();
        _reverse = null;
        _rewrites = null;
        MadeViewsOnOpen = false;

        // The handle's views as this process last left them (made, or checked, by a chaos connection): still right if
        // neither schema has changed since, whoever changed it (schema_version is bumped by every schema change, and a
        // rollback restores the schema with its value; a state is recorded only outside transactions).
        if (Handle is { } handle && s_handles.TryGetValue(handle, out var known))
        {
            if (known.Settings == _settings && SchemaVersions(handle) is { } now && now == known.Versions)
            {
                _shadowed = known.Shadowed;
                _rewrites = known.Rewrites;
                return;
            }

            s_handles.Remove(handle);
        }

        // A pooled handle keeps its TEMP views; temp.user_version records the main schema_version they were made for.
        // The TEMP schema is a file by default: put it in memory before anything opens it (later, the switch would
        // close and reopen it; on a handle that already has it in memory, the pragma changes nothing).
        long schemaVersion, madeFor;
        using (var check = new SqliteCommand("PRAGMA temp_store = MEMORY; PRAGMA main.schema_version", this))
        {
            schemaVersion = (long)check.ExecuteScalar()!;
            check.CommandText = "PRAGMA temp.user_version";
            madeFor = (long)check.ExecuteScalar()!;
        }

        if (madeFor != 0 && madeFor == schemaVersion)
        {
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            using (var list = new SqliteCommand("SELECT name FROM temp.sqlite_schema WHERE type = 'view' AND sql LIKE '%deflake rows chaos%'", this))
            using (var reader = list.ExecuteReader())
            {
                while (reader.Read())
                {
                    names.Add(reader.GetString(0));
                }
            }

            // Views dropped on this handle behind Deflake's back (a plain SqliteCommand) are made again.
            MadeViewsOnOpen = InstallViews(null, names) > 0;
            return;
        }

        MadeViewsOnOpen = true;

        // A handle whose temp.user_version is still 0 never had views made on it: nothing stale to drop, and its TEMP
        // schema is empty, so a clone whose schema is still its template's gets the views the template's first clone got.
        if (madeFor == 0 && _template is not null)
        {
            if (_settings.ScriptFor(_template, schemaVersion) is { } script)
            {
                Run(script.Sql, null);
                _shadowed = script.Shadowed;
                _rewrites = script.Rewrites;
                Remember();
                return;
            }

            var made = BuildViews(null);
            made = made with { Rewrites = _settings.Rewrites.For(made.Shadowed) };
            InstallViews(made);
            if (made.SchemaVersion == schemaVersion)
            {
                _settings.AddScript(_template, made);
            }

            return;
        }

        if (madeFor != 0)
        {
            DropStaleViews();
        }

        InstallViews();
    }

    /// <summary>What a pooled handle's views were made for, so a reopen that finds both schemas unchanged reads nothing else.</summary>
    private sealed record HandleViews(SqliteRowChaosSettings Settings, (long Main, long Temp) Versions, HashSet<string> Shadowed, SqliteRewriteCache Rewrites);

    /// <summary>Per SQLite handle (pooled handles outlive connections; an entry goes when its handle is collected).</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SQLitePCL.sqlite3, HandleViews> s_handles = [];

    /// <summary>Records the current views for the handle; forgets them inside a transaction (it may roll back).</summary>
    private void Remember()
    {
        if (Handle is not { } handle)
        {
            return;
        }

        if (SQLitePCL.raw.sqlite3_get_autocommit(handle) == 0 || SchemaVersions(handle) is not { } versions)
        {
            s_handles.Remove(handle);
            return;
        }

        // _shadowed is never changed in place (it is replaced), so the handle's record can share it.
        _rewrites ??= _settings.Rewrites.For(_shadowed);
        s_handles.AddOrUpdate(handle, new HandleViews(_settings, versions, _shadowed, _rewrites));
    }

    /// <summary>schema_version of main and of temp, read without a command; null if SQLite did not answer at once (busy).</summary>
    private static (long Main, long Temp)? SchemaVersions(SQLitePCL.sqlite3 handle)
        => Pragma(handle, "PRAGMA main.schema_version") is { } main && Pragma(handle, "PRAGMA temp.schema_version") is { } temp ? (main, temp) : null;

    private static long? Pragma(SQLitePCL.sqlite3 handle, string sql)
    {
        if (SQLitePCL.raw.sqlite3_prepare_v2(handle, sql, out var statement) != SQLitePCL.raw.SQLITE_OK)
        {
            statement?.Dispose();
            return null;
        }

        using (statement)
        {
            return SQLitePCL.raw.sqlite3_step(statement) == SQLitePCL.raw.SQLITE_ROW ? SQLitePCL.raw.sqlite3_column_int64(statement, 0) : null;
        }
    }

    private void DropStaleViews()
    {
        var names = new List<string>();
        using (var list = new SqliteCommand("SELECT name FROM temp.sqlite_schema WHERE type = 'view' AND sql LIKE '%deflake rows chaos%'", this))
        using (var reader = list.ExecuteReader())
        {
            while (reader.Read())
            {
                names.Add(reader.GetString(0));
            }
        }

        _shadowed = new HashSet<string>(names, StringComparer.OrdinalIgnoreCase);
        RemoveViews(null);
    }

    public override SqliteCommand CreateCommand() => new ChaosSqliteCommand(this) { Transaction = Transaction, CommandTimeout = DefaultTimeout };

    protected override System.Data.Common.DbCommand CreateDbCommand() => CreateCommand();

    internal string Rewrite(string sql, out bool hasDdl)
    {
        hasDdl = false;
        if (_shadowed.Count == 0 || string.IsNullOrEmpty(sql))
        {
            return sql;
        }

        // Shared by the connections whose shadowed tables are exactly these (see SqliteRewriteCaches); DDL is never cached.
        var cache = _rewrites ??= _settings.Rewrites.For(_shadowed);
        if (cache.TryGet(sql, out var cached))
        {
            return cached;
        }

        var rewrite = SqliteStatements.QualifyWriteTargets(sql, _shadowed);
        hasDdl = rewrite.HasDdl;
        if (!hasDdl)
        {
            cache.Add(sql, rewrite.Sql);
        }

        return rewrite.Sql;
    }

    /// <summary>
    /// Before each execution: the seeded coin flip for <c>reverse_unordered_selects</c>. Set through
    /// <c>sqlite3_db_config(SQLITE_DBCONFIG_REVERSE_SCANORDER)</c>, the same flag as the pragma (and, like it, expiring
    /// prepared statements when it changes), without preparing and running a statement; SQLite before 3.42, which
    /// lacks the option, gets the pragma.
    /// </summary>
    internal void BeforeExecute(SqliteTransaction? transaction)
    {
        var n = _executions++;
        var reverse = (ChaosSeed.Derive(_settings.Seed, "rows:reverse:", n) & 1) == 1;
        if (_reverse == reverse)
        {
            return;
        }

        if (!s_pragmaToggle && Handle is { } handle
            && SQLitePCL.raw.sqlite3_db_config(handle, ReverseScanOrder, reverse ? 1 : 0, out var now) == SQLitePCL.raw.SQLITE_OK
            && now == (reverse ? 1 : 0))
        {
            _reverse = reverse;
            return;
        }

        s_pragmaToggle = true;
        Run(reverse ? "PRAGMA reverse_unordered_selects = 1" : "PRAGMA reverse_unordered_selects = 0", transaction);
        _reverse = reverse;
    }

    /// <summary>SQLITE_DBCONFIG_REVERSE_SCANORDER (SQLite 3.42+): the flag behind <c>PRAGMA reverse_unordered_selects</c>.</summary>
    private const int ReverseScanOrder = 1019;

    /// <summary>Set once <c>sqlite3_db_config</c> refused the option: this SQLite predates it, use the pragma.</summary>
    private static volatile bool s_pragmaToggle;

    /// <summary>Reads the <c>reverse_unordered_selects</c> flag as SQLite has it now (for tests).</summary>
    internal bool ReverseUnorderedSelects()
    {
        using var command = new SqliteCommand("PRAGMA reverse_unordered_selects", this, Transaction);
        return (long)command.ExecuteScalar()! == 1;
    }

    internal void RemoveViews(SqliteTransaction? transaction)
    {
        if (_shadowed.Count == 0)
        {
            return;
        }

        var sql = new StringBuilder();
        foreach (var table in _shadowed)
        {
            sql.Append("DROP VIEW IF EXISTS temp.").Append(SqliteRowChaos.Quote(table)).Append(';');
        }

        if (Handle is { } handle)
        {
            s_handles.Remove(handle);
        }

        Run(sql.ToString(), transaction);
        _shadowed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        _rewrites = null;
    }

    /// <summary>Makes the views of the tables not yet shadowed; <paramref name="kept"/>: views already there. Returns how many it made.</summary>
    internal int InstallViews(SqliteTransaction? transaction = null, HashSet<string>? kept = null)
    {
        var views = BuildViews(transaction);
        var made = views.Shadowed.Count;
        if (kept is not null)
        {
            views.Shadowed.UnionWith(kept);
        }

        InstallViews(views, transaction);
        return made;
    }

    private void InstallViews(SqliteViewScript views, SqliteTransaction? transaction = null)
    {
        Run(views.Sql, transaction);
        _shadowed = views.Shadowed;
        _rewrites = views.Rewrites;
        Remember();
    }

    /// <summary>The views for the tables of <c>main</c> not yet shadowed (without a rewrite cache).</summary>
    private SqliteViewScript BuildViews(SqliteTransaction? transaction)
    {
        var tables = new List<string>();
        using (var list = new SqliteCommand(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND wr = 0 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' " +
            "AND name NOT IN (SELECT name FROM temp.sqlite_schema) ORDER BY name", this, transaction))
        using (var reader = list.ExecuteReader())
        {
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }


        // The TEMP schema is a file by default; in memory, making the views costs no file creation. (Open has set it
        // already; the views may also be remade after DDL, and the pragma is free when nothing changes.)
        var sql = new StringBuilder("PRAGMA temp_store = MEMORY;");
        foreach (var table in tables)
        {
            sql.Append(SqliteRowChaos.ViewSql(table, _settings.Seed)).Append(';');
        }

        long schemaVersion;
        using (var version = new SqliteCommand("PRAGMA main.schema_version", this, transaction))
        {
            schemaVersion = (long)version.ExecuteScalar()!;
            sql.Append("PRAGMA temp.user_version = ").Append(schemaVersion.ToString(CultureInfo.InvariantCulture)).Append(';');
        }

        return new SqliteViewScript(schemaVersion, sql.ToString(), new HashSet<string>(tables, StringComparer.OrdinalIgnoreCase), null);
    }

    private void Run(string sql, SqliteTransaction? transaction)
    {
        using var command = new SqliteCommand(sql, this, transaction);
        command.ExecuteNonQuery();
    }
}

/// <summary>A command of a <see cref="ChaosSqliteConnection"/>; see there.</summary>
internal sealed class ChaosSqliteCommand : SqliteCommand
{
    private readonly ChaosSqliteConnection _connection;
    private bool _hasDdl;

    public ChaosSqliteCommand(ChaosSqliteConnection connection)
    {
        _connection = connection;
        Connection = connection;
    }

    [System.Diagnostics.CodeAnalysis.AllowNull]
    public override string CommandText
    {
        get => base.CommandText;
        set => base.CommandText = value is null ? null! : _connection.Rewrite(value, out _hasDdl);
    }

    public override SqliteDataReader ExecuteReader(CommandBehavior behavior)
    {
        if (Connection != _connection || _connection.State != ConnectionState.Open)
        {
            return base.ExecuteReader(behavior);
        }

        _connection.BeforeExecute(Transaction);
        if (!_hasDdl)
        {
            return base.ExecuteReader(behavior);
        }

        // DDL must see the tables, not the views; afterwards the views are rebuilt from the new schema.
        _connection.RemoveViews(Transaction);
        try
        {
            var reader = base.ExecuteReader(behavior);
            return reader;
        }
        finally
        {
            _connection.InstallViews(Transaction);
        }
    }
}
