using System.Data;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Deflake.Sqlite;

/// <summary>
/// A SQLite connection with row-order chaos: every table of <c>main</c> that has a rowid is shadowed by a seeded
/// shuffle (<see cref="SqliteRowChaos.ShuffleSql"/>), so unqualified reads see it, including which row <c>LIMIT 1</c>
/// picks. Commands made by <see cref="CreateCommand"/> get the shuffle as a subquery in place of each table read plainly
/// after FROM or JOIN; for any other read of a table, a TEMP view of the table's name is made on the handle before the
/// first statement that names it (TEMP views are per handle; a statement can only read a view whose name it spells).
/// Those commands also send writes to the table itself (their target is qualified with <c>main.</c>), toggle
/// <c>reverse_unordered_selects</c> per statement from the seed (joins, ties, WITHOUT ROWID tables), and lift the views
/// around DDL.
/// </summary>
internal sealed class ChaosSqliteConnection : SqliteConnection
{
    private static readonly HashSet<string> NoTables = new(StringComparer.OrdinalIgnoreCase);
    private readonly SqliteRowChaosSettings _settings;
    private HandleViews? _views;
    private long _executions;
    private bool? _reverse;

    /// <summary>The template this database was cloned from (its path), if known: see <see cref="SqliteRowChaosSettings.TablesFor"/>.</summary>
    private readonly string? _template;

    public ChaosSqliteConnection(string connectionString, SqliteRowChaosSettings settings, string? template = null)
        // A pool of its own: the TEMP views stay on the pooled handle and are reused when the schema has not changed.
        : base(SqliteRowChaos.PooledConnectionString(connectionString))
    {
        _settings = settings;
        _template = template;
    }

    /// <summary>The tables shadowed on this connection (each gets its view when a statement first names it).</summary>
    internal HashSet<string> Shadowed => _views?.Tables ?? NoTables;

    /// <summary>The views the handle carries as Deflake knows them (a subset of <see cref="Shadowed"/>).</summary>
    internal IReadOnlySet<string> Made => _views?.Made ?? NoTables;

    /// <summary>Whether the last <see cref="Open"/> had to work the handle's state out from SQLite (false: it trusted what it had recorded for the handle).</summary>
    internal bool SyncedOnOpen { get; private set; }

    /// <summary>The statement cache of the current set of shadowed tables (null while closed).</summary>
    internal SqliteRewriteCache? Rewrites => _views?.Rewrites;

    public override void Open()
    {
        base.Open();
        _reverse = null;
        SyncedOnOpen = false;

        // The handle as this process last left it: still right if neither schema has changed since, whoever changed it
        // (schema_version is bumped by every schema change, and a rollback restores the schema with its value), unless a
        // view was made or dropped inside a transaction that has not been seen to end.
        var handle = Handle!;
        s_handles.TryGetValue(handle, out var known);
        if (known is not null && known.Settings != _settings)
        {
            known = null;
        }

        if (known is { Pending: false } && SchemaVersions(handle) is { } now && now == known.Versions)
        {
            _views = known;
            return;
        }

        SyncedOnOpen = true;
        _views = Sync(known, null);
    }

    public override void Close()
    {
        _views = null;
        base.Close();
    }

    /// <summary>Loads the schema of <c>main</c> on the handle (the pool's filler does it ahead of the test).</summary>
    internal void LoadSchema() => Exec("SELECT 1 FROM main.sqlite_schema LIMIT 0", null);

    /// <summary>What Deflake knows about one handle's views; changed only by the connection that has the handle open.</summary>
    private sealed class HandleViews(SqliteRowChaosSettings settings, HashSet<string> tables, SqliteRewriteCache rewrites, HashSet<string> made)
    {
        public SqliteRowChaosSettings Settings { get; } = settings;

        /// <summary>The tables to shadow; never changed in place (a new set replaces it), so it can be shared.</summary>
        public HashSet<string> Tables { get; } = tables;

        public SqliteRewriteCache Rewrites { get; } = rewrites;

        /// <summary>The views made on the handle, as of <see cref="Versions"/>.</summary>
        public HashSet<string> Made { get; } = made;

        /// <summary>schema_version of main and temp when <see cref="Made"/> was last known to be right.</summary>
        public (long Main, long Temp) Versions { get; set; }

        /// <summary>
        /// The TEMP schema was changed inside a transaction: a rollback (or ROLLBACK TO) may undo it. Until the
        /// transaction is seen to end with the cookies unchanged, every statement compares them first.
        /// </summary>
        public bool Pending { get; set; }
    }

    /// <summary>Per SQLite handle (pooled handles outlive connections; an entry goes when its handle is collected).</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SQLitePCL.sqlite3, HandleViews> s_handles = [];

    /// <summary>
    /// Works out from SQLite what the handle carries and records it: the tables to shadow, and which of their views
    /// exist. Views made for another schema of main than <paramref name="previous"/> recorded (or by an unknown past)
    /// are dropped; they are remade from the current schema when next named.
    /// </summary>
    private HandleViews Sync(HandleViews? previous, SqliteTransaction? transaction)
    {
        var handle = Handle!;
        if (previous is null)
        {
            // The TEMP schema is a file by default: put it in memory before anything opens it (on a handle that has it
            // in memory already, the pragma changes nothing).
            Exec("PRAGMA temp_store = MEMORY", transaction);
        }

        var main = Pragma(handle, "PRAGMA main.schema_version") ?? Scalar("PRAGMA main.schema_version", transaction);
        var temp = Pragma(handle, "PRAGMA temp.schema_version") ?? Scalar("PRAGMA temp.schema_version", transaction);

        // A TEMP schema that was never changed is empty: nothing to list (every fresh handle).
        var existing = new List<string>();
        var foreign = false;
        if (temp != 0)
        {
            using var list = new SqliteCommand("SELECT name, type = 'view' AND sql LIKE '%deflake rows chaos%' FROM temp.sqlite_schema", this, transaction);
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                if (reader.GetBoolean(1))
                {
                    existing.Add(reader.GetString(0));
                }
                else
                {
                    foreign = true;
                }
            }
        }

        if (existing.Count > 0 && (previous is null || previous.Versions.Main != main))
        {
            var drop = new StringBuilder();
            foreach (var view in existing)
            {
                drop.Append("DROP VIEW IF EXISTS temp.").Append(SqliteRowChaos.Quote(view)).Append(';');
            }

            Run(drop.ToString(), transaction);
            existing.Clear();
            temp = Scalar("PRAGMA temp.schema_version", transaction);
        }

        // A name the TEMP schema uses for something of its own (a TEMP table) is not shadowed: the cached set assumes none.
        var tables = foreign || _template is null ? null : _settings.TablesFor(_template, main);
        if (tables is null)
        {
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            using (var list = new SqliteCommand(
                "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND wr = 0 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' " +
                "AND name NOT IN (SELECT name FROM temp.sqlite_schema WHERE NOT (type = 'view' AND sql LIKE '%deflake rows chaos%'))", this, transaction))
            using (var reader = list.ExecuteReader())
            {
                while (reader.Read())
                {
                    names.Add(reader.GetString(0));
                }
            }

            tables = new SqliteTableSet(main, names, _settings.Rewrites.For(names));
            if (!foreign && _template is not null)
            {
                _settings.AddTables(_template, tables);
            }
        }

        var made = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var view in existing)
        {
            if (tables.Tables.TryGetValue(view, out var table))
            {
                made.Add(table);
            }
        }

        var views = new HandleViews(_settings, tables.Tables, tables.Rewrites, made)
        {
            Versions = (main, temp),
            Pending = SQLitePCL.raw.sqlite3_get_autocommit(handle) == 0,
        };
        s_handles.AddOrUpdate(handle, views);
        return views;
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

    public override SqliteCommand CreateCommand() => new ChaosSqliteCommand(this) { Transaction = Transaction, CommandTimeout = DefaultTimeout };

    protected override System.Data.Common.DbCommand CreateDbCommand() => CreateCommand();

    /// <summary>
    /// The plan of <paramref name="sql"/> for the current shadowed tables (<paramref name="tables"/>: those it was made
    /// for; null while closed, when nothing is rewritten).
    /// </summary>
    internal SqliteStatementPlan Plan(string sql, out bool hasDdl, out HashSet<string>? tables)
    {
        hasDdl = false;
        var views = _views;
        tables = views?.Tables;
        if (views is null || views.Tables.Count == 0 || string.IsNullOrEmpty(sql))
        {
            return SqliteStatementPlan.Unchanged(sql);
        }

        // Shared by the connections whose shadowed tables are exactly these (see SqliteRewriteCaches); DDL is never cached.
        if (views.Rewrites.TryGet(sql, out var cached))
        {
            return cached;
        }

        var rewrite = SqliteStatements.QualifyWriteTargets(sql, views.Tables, _settings.InlineReads ? _settings.ShuffleSql : null);
        hasDdl = rewrite.HasDdl;
        var plan = new SqliteStatementPlan(rewrite.Sql, rewrite.Reads);
        if (!hasDdl)
        {
            views.Rewrites.Add(sql, plan);
        }

        return plan;
    }

    /// <summary>
    /// Before each execution: makes the views of the tables the statement names that the handle lacks, then the seeded
    /// coin flip for <c>reverse_unordered_selects</c>. The flag is set through
    /// <c>sqlite3_db_config(SQLITE_DBCONFIG_REVERSE_SCANORDER)</c>, the same flag as the pragma (and, like it, expiring
    /// prepared statements when it changes), without preparing and running a statement; SQLite before 3.42, which
    /// lacks the option, gets the pragma.
    /// </summary>
    internal void BeforeExecute(SqliteTransaction? transaction, string[] reads)
    {
        EnsureViews(transaction, reads);
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

    /// <summary>
    /// Makes the views of <paramref name="reads"/> that the handle lacks. While a transaction may still undo views
    /// made or dropped in it (<see cref="HandleViews.Pending"/>), first compares the schema cookies with those recorded
    /// after the change: a rollback restores the earlier values, and then the handle is worked out again.
    /// </summary>
    private void EnsureViews(SqliteTransaction? transaction, string[] reads)
    {
        if (_views is not { } views || Handle is not { } handle)
        {
            return;
        }

        if (views.Pending)
        {
            if (SchemaVersions(handle) is not { } now || now != views.Versions)
            {
                views = _views = Sync(views, transaction);
            }
            else if (SQLitePCL.raw.sqlite3_get_autocommit(handle) != 0)
            {
                views.Pending = false;
            }
        }

        StringBuilder? sql = null;
        foreach (var table in reads)
        {
            if (!views.Made.Contains(table) && views.Tables.Contains(table))
            {
                (sql ??= new StringBuilder()).Append(_settings.ViewSql(table)).Append(';');
            }
        }

        if (sql is null)
        {
            return;
        }

        Exec(sql.ToString(), transaction);
        foreach (var table in reads)
        {
            if (views.Tables.Contains(table))
            {
                views.Made.Add(table);
            }
        }

        // Making a TEMP view changes only temp's cookie.
        views.Versions = (views.Versions.Main, Pragma(handle, "PRAGMA temp.schema_version") ?? Scalar("PRAGMA temp.schema_version", transaction));
        views.Pending |= SQLitePCL.raw.sqlite3_get_autocommit(handle) == 0;
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

    /// <summary>Before DDL: drops the handle's views, so the DDL sees the tables.</summary>
    internal void StepAside(SqliteTransaction? transaction)
    {
        if (_views is not { } views || Handle is not { } handle)
        {
            return;
        }

        if (views.Pending || SchemaVersions(handle) is not { } now || now != views.Versions)
        {
            views = _views = Sync(views, transaction);
        }

        if (views.Made.Count == 0)
        {
            return;
        }

        var sql = new StringBuilder();
        foreach (var table in views.Made)
        {
            sql.Append("DROP VIEW IF EXISTS temp.").Append(SqliteRowChaos.Quote(table)).Append(';');
        }

        Run(sql.ToString(), transaction);
        views.Made.Clear();
        views.Versions = (views.Versions.Main, Scalar("PRAGMA temp.schema_version", transaction));
        views.Pending |= SQLitePCL.raw.sqlite3_get_autocommit(handle) == 0;
    }

    /// <summary>After DDL: the tables to shadow from the new schema; their views are made when next named.</summary>
    internal void AfterDdl(SqliteTransaction? transaction)
    {
        if (_views is { } views && State == ConnectionState.Open)
        {
            _views = Sync(views, transaction);
        }
    }

    private long Scalar(string sql, SqliteTransaction? transaction)
    {
        using var command = new SqliteCommand(sql, this, transaction);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>
    /// Runs <paramref name="sql"/> straight through SQLite (no command objects); if SQLite refuses (busy, locked), runs
    /// it again as a command, which waits up to the connection's timeout. For idempotent statements only.
    /// </summary>
    private void Exec(string sql, SqliteTransaction? transaction)
    {
        if (Handle is { } handle && SQLitePCL.raw.sqlite3_exec(handle, sql) == SQLitePCL.raw.SQLITE_OK)
        {
            return;
        }

        Run(sql, transaction);
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
    private string? _text;
    private HashSet<string>? _plannedFor;
    private string[] _reads = [];
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
        set
        {
            _text = value;
            Plan();
        }
    }

    private void Plan()
    {
        if (_text is null)
        {
            base.CommandText = null!;
            _reads = [];
            _hasDdl = false;
            _plannedFor = null;
            return;
        }

        var plan = _connection.Plan(_text, out _hasDdl, out _plannedFor);
        base.CommandText = plan.Sql;
        _reads = plan.Reads;
    }

    public override SqliteDataReader ExecuteReader(CommandBehavior behavior)
    {
        if (Connection != _connection || _connection.State != ConnectionState.Open)
        {
            return base.ExecuteReader(behavior);
        }

        // Text set while the connection was closed, or before DDL changed the shadowed tables: plan it again.
        if (_text is not null && !ReferenceEquals(_plannedFor, _connection.Shadowed))
        {
            Plan();
        }

        _connection.BeforeExecute(Transaction, _reads);
        if (!_hasDdl)
        {
            return base.ExecuteReader(behavior);
        }

        // DDL must see the tables, not the views; afterwards the tables to shadow are worked out from the new schema.
        _connection.StepAside(Transaction);
        try
        {
            return base.ExecuteReader(behavior);
        }
        finally
        {
            _connection.AfterDdl(Transaction);
        }
    }
}
