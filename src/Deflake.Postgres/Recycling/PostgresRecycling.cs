using System.Globalization;
using System.Text;
using Deflake.Postgres.Internal;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Deflake.Postgres.Recycling;

/// <summary>
/// Recycling a returned clone in place. Built once into the template (so every clone inherits it), in a schema
/// <c>deflake_recycle</c>:
/// <list type="bullet">
/// <item>a copy of the rows of every table that has rows in the template;</item>
/// <item>on every table a statement-level trigger (<c>ENABLE ALWAYS</c>, so <c>session_replication_role</c> does not
/// silence it) that records the table as dirty: one extra insert per writing statement, not per row; in Deflake's restore
/// sessions it records nothing, so a restore's own writes are not read as a test's;</item>
/// <item>an event trigger that records any DDL, after which the clone is never recycled;</item>
/// <item><c>restore()</c>, which in one round trip ends the test's sessions that could block or leak (inside a transaction,
/// running, or holding advisory locks; idle pooled sessions stay warm), refuses what it cannot restore (DDL, prepared
/// transactions, large objects, changed database settings), truncates the dirty tables together with every table that
/// references them, re-inserts the template's rows, and sets every sequence back to the template's value.</item>
/// </list>
/// Tables with rows are compacted in the template (truncated and re-inserted in heap order), so a restored table has
/// the same physical layout as a fresh clone's: row-order chaos, which shuffles by row position, gives the same order
/// on a recycled database as on a new one.
/// </summary>
internal static class PostgresRecycling
{
    /// <summary>The schema of Deflake's recycling objects; created only in Deflake's templates.</summary>
    public const string Schema = "deflake_recycle";

    /// <summary>The application name of the sessions that restore clones (so they never end each other).</summary>
    public const string ApplicationName = "deflake recycle";

    private const string TriggerName = "deflake_recycle_dirty";

    /// <summary>
    /// The setting that marks Deflake's restore sessions (<see cref="RestoringOption"/>): the mark trigger does not record
    /// what a restore writes (its own deletes and refills would be read as the next test's writes).
    /// </summary>
    private const string RestoringSetting = "deflake.restoring";

    /// <summary>True in Deflake's restore sessions: the mark trigger records nothing there.</summary>
    private const string Restoring = $"pg_catalog.current_setting('{RestoringSetting}', true) is not distinct from 'on'";

    /// <summary>The startup option of Deflake's restore sessions: what they write is not recorded as a test's writes.</summary>
    public const string RestoringOption = $"-c {RestoringSetting}=on";

    /// <summary>
    /// Installs recycling in a template being built (after the schema and the template's chaos). When the template
    /// cannot be recycled safely, installs a <c>restore()</c> that only says why, and logs it once.
    /// </summary>
    /// <param name="connection">The build connection, on the template.</param>
    /// <param name="exactLayout">
    /// True (under rows chaos, which orders by row position): every dirty table is truncated and refilled, so its physical
    /// layout is the fresh clone's. False: a table the test only inserted into loses the rows that are not the template's
    /// (told apart by their inserting transaction), which is cheaper and leaves the template's rows where they were.
    /// </param>
    /// <param name="logger">Where to say that a template cannot be recycled, and why.</param>
    /// <param name="cancellationToken">Cancels the installation.</param>
    public static async Task InstallAsync(NpgsqlConnection connection, bool exactLayout, ILogger logger, CancellationToken cancellationToken)
    {
        var why = await FindUnsupportedAsync(connection, cancellationToken).ConfigureAwait(false);
        if (why is not null)
        {
            logger.LogInformation("Deflake will not recycle clones of this PostgreSQL template ({Reason}); every test gets a new clone", why);
            await ExecuteAsync(connection, UnsupportedSql(why), cancellationToken).ConfigureAwait(false);
            return;
        }

        var tables = await ReadTablesAsync(connection, cancellationToken).ConfigureAwait(false);
        if (tables.FirstOrDefault(t => t.HasRows && t.Columns.Length == 0) is { } odd)
        {
            const string NoColumns = "a table with rows has no column a restore could write";
            logger.LogInformation("Deflake will not recycle clones of this PostgreSQL template ({Reason}: {Table})", NoColumns, odd.QualifiedName);
            await ExecuteAsync(connection, UnsupportedSql(NoColumns), cancellationToken).ConfigureAwait(false);
            return;
        }

        var sequences = await ReadSequencesAsync(connection, cancellationToken).ConfigureAwait(false);
        var sql = new StringBuilder();
        sql.Append(CultureInfo.InvariantCulture, $"""
            set max_parallel_workers_per_gather = 0;
            set synchronize_seqscans = off;
            set deflake.chaos_busy = 'on';
            create schema {Schema};
            comment on schema {Schema} is 'Deflake: restores this test database to its template''s state when a test returns it. Do not change.';
            create table {Schema}.dirty (rel oid not null, rewritten boolean not null);
            create table {Schema}.tables (rel oid primary key, qname text not null, row_xmin xid);
            """);
        sql.AppendLine();

        // Copies of the template's rows, then every table truncated together (foreign keys allow nothing less) and refilled
        // from its copy in heap order: the template's tables end up without gaps, exactly as a restore will leave them.
        var withRows = tables.Where(t => t.HasRows).ToList();
        foreach (var table in withRows)
        {
            sql.Append(CultureInfo.InvariantCulture, $"create table {Schema}.{Snapshot(table)} as select {table.Columns} from only {table.QualifiedName};\n");
        }

        if (withRows.Count > 0)
        {
            sql.Append("set session_replication_role = replica;\n");
            sql.Append(CultureInfo.InvariantCulture, $"truncate table {string.Join(", ", tables.Select(t => t.QualifiedName))};\n");
            foreach (var table in withRows)
            {
                sql.Append(RestoreSql(table)).Append(";\n");
            }

            sql.Append("set session_replication_role = default;\n");
        }

        // One transaction so far: every template row now carries its xmin, which tells them from rows a test inserts.
        await ExecuteAsync(connection, sql.ToString(), cancellationToken).ConfigureAwait(false);
        sql.Clear();
        var templateXmin = "0";
        if (withRows.Count > 0)
        {
            var probe = new NpgsqlCommand($"select xmin::text from only {withRows[0].QualifiedName} limit 1", connection);
            await using (probe.ConfigureAwait(false))
            {
                templateXmin = uint.Parse((string)(await probe.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!, CultureInfo.InvariantCulture)
                    .ToString(CultureInfo.InvariantCulture);
            }
        }

        // What the restore reads at run time: each table's name (for the truncation) and the inserting transaction of its
        // template rows. Closures, refills and the sequences' values are written into the generated restore itself.
        foreach (var table in tables)
        {
            sql.Append(CultureInfo.InvariantCulture,
                $"insert into {Schema}.tables values ({table.Oid}, {Quote.Literal(table.QualifiedName)}, {(table.HasRows ? $"'{templateXmin}'" : "null")});\n");
        }

        sql.Append(CultureInfo.InvariantCulture, $$"""
            create function {{Schema}}.mark() returns trigger language plpgsql as $$
            begin
                -- One plain insert per writing statement, as cheap as a trigger gets (measured: a 3-row test paid 0.15 ms for a
                -- check-then-insert as security definer, under 0.05 ms for this): no unique key, so two sessions of a test
                -- writing one table in open transactions never wait for each other here; the restore reads the rows as a set.
                -- No SET clause (it would save and restore settings on every call): names and operators are qualified instead.
                -- Deflake's restore sessions are not recorded: a simple expression, no query (a WHEN condition on the trigger
                -- instead was measured at about 0.03 ms more a test: it is compiled again for every statement).
                if {{Restoring}} then
                    return null;
                end if;
                insert into {{Schema}}.dirty values (TG_RELID, TG_OP operator(pg_catalog.<>) 'INSERT');
                return null;
            end $$;
            -- The trigger runs as whoever writes (a role of the app's, perhaps): it may record, and nothing else.
            grant usage on schema {{Schema}} to public;
            grant insert on {{Schema}}.dirty to public;
            """);
        sql.AppendLine();
        foreach (var table in tables)
        {
            sql.Append(CultureInfo.InvariantCulture,
                $"create trigger {TriggerName} after insert or update or delete or truncate on {table.QualifiedName} for each statement execute function {Schema}.mark();\n");
            sql.Append(CultureInfo.InvariantCulture, $"alter table {table.QualifiedName} enable always trigger {TriggerName};\n");
        }

        sql.Append(SettingsFunctionSql);
        sql.Append(RestoreFunctionSql(connection.PostgreSqlVersion.Major, exactLayout, tables, sequences));
        sql.Append(CultureInfo.InvariantCulture, $$"""
            create function {{Schema}}.ddl() returns event_trigger language plpgsql security definer set search_path = pg_catalog as $$
            begin
                insert into {{Schema}}.dirty values (0, true);
            end $$;
            create event trigger deflake_recycle_ddl on ddl_command_start execute function {{Schema}}.ddl();
            delete from {{Schema}}.dirty;
            reset max_parallel_workers_per_gather;
            reset synchronize_seqscans;
            reset deflake.chaos_busy;
            """);
        await ExecuteAsync(connection, sql.ToString(), cancellationToken).ConfigureAwait(false);
        logger.LogDebug("Deflake recycling installed: {Tables} table(s), {WithRows} with rows copied, {Sequences} sequence(s)",
            tables.Count, withRows.Count, sequences.Count);
    }

    /// <summary>
    /// What a restore of the clone the connection is on compares and passes in: the database settings (<c>ALTER DATABASE … SET</c>,
    /// per role too) as <c>restore()</c> reads them, and the clone's oid (fixed for its life; passed in, a restore does not
    /// look it up).
    /// </summary>
    public static async Task<(string[] Settings, uint Database)> ReadCloneAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand($"select {Schema}.settings(), (select oid from pg_catalog.pg_database where datname = pg_catalog.current_database())", connection);
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                return (reader.IsDBNull(0) ? [] : reader.GetFieldValue<string[]>(0), reader.GetFieldValue<uint>(1));
            }
        }
    }

    /// <summary>
    /// Restores the clone the connection is on. Returns null when it is restored, else why not; Ended
    /// is how many of the test's sessions were ended (their pooled connections must not be handed out again); Touched
    /// the tables the restore deleted rows from, and Dead about how many dead rows it left in them (they stay until
    /// vacuumed: see <see cref="VacuumAsync"/>).
    /// </summary>
    public static async Task<(string? Reason, int Ended, string[] Touched, long Dead)> RestoreAsync(NpgsqlConnection connection, string[] expectedSettings, uint database, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand($"select reason, ended, touched, dead from {Schema}.restore(@expected, @db)", connection) { CommandTimeout = 60 };
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.AddWithValue("expected", expectedSettings);
            command.Parameters.Add(new NpgsqlParameter<uint>("db", NpgsqlTypes.NpgsqlDbType.Oid) { TypedValue = database });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                return (reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetInt32(1), reader.IsDBNull(2) ? [] : reader.GetFieldValue<string[]>(2), reader.IsDBNull(3) ? 0 : reader.GetInt64(3));
            }
        }
    }

    /// <summary>
    /// Vacuums tables a restore deleted rows from. Recycling deletes what a test inserted and empties its own bookkeeping
    /// after every test, and the throwaway server runs without autovacuum (its workers would hold templates open), so
    /// without this a clone that served a thousand tests scans a thousand tests' dead rows in every query.
    /// </summary>
    public static async Task VacuumAsync(NpgsqlConnection connection, IReadOnlyCollection<string> tables, CancellationToken cancellationToken)
    {
        if (tables.Count == 0)
        {
            return;
        }

        if (connection.PostgreSqlVersion.Major >= 11)
        {
            await ExecuteAsync(connection, "vacuum " + string.Join(", ", tables), cancellationToken).ConfigureAwait(false);
            return;
        }

        foreach (var table in tables)
        {
            await ExecuteAsync(connection, "vacuum " + table, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Rolls back the clone's prepared transactions (a database with one cannot be dropped).</summary>
    public static async Task RollBackPreparedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var ids = new List<string>();
        var list = new NpgsqlCommand("select gid from pg_prepared_xacts where database = current_database()", connection);
        await using (list.ConfigureAwait(false))
        {
            var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    ids.Add(reader.GetString(0));
                }
            }
        }

        foreach (var id in ids)
        {
            await ExecuteAsync(connection, $"rollback prepared {Quote.Literal(id)}", cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<string?> FindUnsupportedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand($"""
            select
              (select not rolsuper from pg_roles where rolname = current_user),
              exists (select from pg_class c join pg_namespace n on n.oid = c.relnamespace
                      where c.relkind = 'p' and {UserSchemas("n.nspname")}),
              exists (select from pg_inherits),
              exists (select from pg_class c join pg_namespace n on n.oid = c.relnamespace
                      where c.relkind = 'f' and {UserSchemas("n.nspname")}),
              exists (select from pg_largeobject_metadata)
            """, connection);
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                return reader.GetBoolean(0) ? "the role is not a superuser, so DDL in a test cannot be detected"
                    : reader.GetBoolean(1) || reader.GetBoolean(2) ? "the schema has partitioned or inherited tables"
                    : reader.GetBoolean(3) ? "the schema has foreign tables"
                    : reader.GetBoolean(4) ? "the template holds large objects"
                    : null;
            }
        }
    }

    private static string UserSchemas(string column) =>
        $"{column} not in ('pg_catalog', 'information_schema', '{Schema}', '{Chaos.PostgresTemplateChaos.Schema}') and {column} not like 'pg\\_toast%' and {column} not like 'pg\\_temp\\_%'";

    private sealed class Table(uint oid, string qualifiedName, string columns, uint[] referencedBy)
    {
        public uint Oid { get; } = oid;

        public string QualifiedName { get; } = qualifiedName;

        /// <summary>The columns a restore writes: all but dropped and generated ones, quoted, in order.</summary>
        public string Columns { get; } = columns;

        /// <summary>The tables whose foreign keys reference this one.</summary>
        public uint[] ReferencedBy { get; } = referencedBy;

        public bool HasRows { get; set; }
    }

    private sealed record Sequence(uint Oid, string QualifiedName, long LastValue, bool IsCalled);

    private static async Task<List<Table>> ReadTablesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var tables = new List<Table>();
        var command = new NpgsqlCommand($$"""
            select c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                   coalesce((select string_agg(quote_ident(a.attname), ', ' order by a.attnum) from pg_attribute a
                             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''), ''),
                   coalesce((select array_agg(distinct k.conrelid) from pg_constraint k where k.contype = 'f' and k.confrelid = c.oid), '{}'::oid[])
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relkind = 'r' and {{UserSchemas("n.nspname")}}
            order by n.nspname, c.relname
            """, connection);
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    tables.Add(new Table(reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<uint[]>(3)));
                }
            }
        }

        if (tables.Count > 0)
        {
            var probe = new NpgsqlCommand(
                "select array[" + string.Join(", ", tables.Select(t => $"exists (select from only {t.QualifiedName})")) + "]", connection);
            await using (probe.ConfigureAwait(false))
            {
                var hasRows = (bool[])(await probe.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                for (var i = 0; i < tables.Count; i++)
                {
                    tables[i].HasRows = hasRows[i];
                }
            }
        }

        return tables;
    }

    private static async Task<List<Sequence>> ReadSequencesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var names = new List<(uint Oid, string QualifiedName)>();
        var command = new NpgsqlCommand($"""
            select c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relkind = 'S' and {UserSchemas("n.nspname")}
            order by n.nspname, c.relname
            """, connection);
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    names.Add((reader.GetFieldValue<uint>(0), reader.GetString(1)));
                }
            }
        }

        // The template's state of every sequence (identities chaos ranges included), read in one round trip: the restore
        // carries these values as constants.
        var sequences = new List<Sequence>();
        if (names.Count > 0)
        {
            var state = new NpgsqlCommand(
                string.Join(" union all ", names.Select((n, i) => string.Create(CultureInfo.InvariantCulture, $"select {i}, last_value, is_called from {n.QualifiedName}"))),
                connection);
            await using (state.ConfigureAwait(false))
            {
                var reader = await state.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    var values = new (long, bool)[names.Count];
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        values[reader.GetInt32(0)] = (reader.GetInt64(1), reader.GetBoolean(2));
                    }

                    sequences.AddRange(names.Select((n, i) => new Sequence(n.Oid, n.QualifiedName, values[i].Item1, values[i].Item2)));
                }
            }
        }

        return sequences;
    }

    /// <summary>The table and every table that references it, directly or not: TRUNCATE takes them only together.</summary>
    private static SortedSet<uint> Closure(Table table, List<Table> tables)
    {
        var byOid = tables.ToDictionary(t => t.Oid);
        var seen = new SortedSet<uint> { table.Oid };
        var queue = new Queue<uint>([table.Oid]);
        while (queue.Count > 0)
        {
            if (!byOid.TryGetValue(queue.Dequeue(), out var current))
            {
                continue;
            }

            foreach (var child in current.ReferencedBy)
            {
                if (seen.Add(child))
                {
                    queue.Enqueue(child);
                }
            }
        }

        return seen;
    }

    private static string Snapshot(Table table) => "s_" + table.Oid.ToString(CultureInfo.InvariantCulture);

    private static string RestoreSql(Table table) =>
        $"insert into {table.QualifiedName} ({table.Columns}) overriding system value select {table.Columns} from {Schema}.{Snapshot(table)}";

    private const string SettingsFunctionSql = $$"""
        create function {{Schema}}.settings() returns text[] language sql stable set search_path = pg_catalog as $$
            select coalesce(array_agg(p.setrole::text || ':' || s order by p.setrole, s), '{}')
            from pg_db_role_setting p cross join lateral unnest(p.setconfig) s
            where p.setdatabase = (select oid from pg_database where datname = current_database())
        $$;

        """;

    private static string UnsupportedSql(string why) => $$"""
        create schema {{Schema}};
        comment on schema {{Schema}} is 'Deflake: this template is not recycled.';
        {{SettingsFunctionSql}}
        create function {{Schema}}.restore(expected text[], db oid, out reason text, out ended int, out touched text[], out dead bigint) language sql set search_path = pg_catalog
            as $$ select {{Quote.Literal(why)}}::text, 0, null::text[], 0::bigint $$;
        """;

    /// <summary>
    /// The restore, run by <see cref="RestoreAsync"/> in its own transaction, generated for the template's tables and
    /// sequences: static statements (planned once per restore session, no dynamic SQL but the truncation) and the
    /// template's sequence values as constants. Sessions to end: every client session on the clone but this one that is
    /// not idle (inside a transaction, running) or holds advisory locks; they could block the restore or carry the
    /// test's state into the next test. Idle sessions hold no locks and stay (the app's warm pool).
    /// </summary>
    private static string RestoreFunctionSql(int serverMajor, bool exactLayout, List<Table> tables, List<Sequence> sequences)
    {
        var end = serverMajor >= 14
            ? "if not pg_terminate_backend(p, 5000) then reason := 'a session of the test did not end within 5 s'; return; end if;"
            : """
              perform pg_terminate_backend(p);
              for i in 1..500 loop
                  exit when not exists (select from pg_stat_get_activity(p));
                  perform pg_sleep(0.01);
              end loop;
              if exists (select from pg_stat_get_activity(p)) then reason := 'a session of the test did not end within 5 s'; return; end if;
              """;
        var oid = (uint value) => value.ToString(CultureInfo.InvariantCulture);
        var all = "'{" + string.Join(",", tables.Select(t => oid(t.Oid))) + "}'::oid[]";
        var body = new StringBuilder();

        // Tables the test updated, deleted from or truncated (all written ones when the layout must match) are rebuilt from
        // the template's rows, with every table that references them, since TRUNCATE takes them only together. Each step
        // loops over the tables the test wrote and finds a table's statement by comparing oids in a balanced tree: a
        // restore pays about log2(tables) comparisons for each table written, not one test for every table there is.
        if (exactLayout)
        {
            body.Append("        rewritten := coalesce(rewritten, '{}') || coalesce(inserted, '{}');\n        inserted := null;\n");
        }

        body.Append("        if rewritten is not null then\n");
        body.Append("            foreach r in array rewritten loop\n");
        body.Append(Dispatch("r", tables.Select(t => (t.Oid, $"todo := todo || '{{{string.Join(",", Closure(t, tables))}}}'::oid[];")), 4));
        body.Append("            end loop;\n");
        body.Append(CultureInfo.InvariantCulture, $"""
                        todo := array(select distinct u from unnest(todo) u);
                        execute 'truncate table ' || (select string_agg(t.qname, ', ') from {Schema}.tables t where t.rel = any(todo));
                        foreach r in array todo loop

            """);
        body.Append(Dispatch("r", tables.Where(t => t.HasRows).Select(t => (t.Oid, RestoreSql(t) + ";")), 4));
        body.Append(CultureInfo.InvariantCulture, $"""
                        end loop;
                        -- The template's rows of these tables now carry this transaction's id.
                        update {Schema}.tables set row_xmin = (txid_current() % 4294967296)::text::xid where rel = any(todo) and row_xmin is not null;
                        touched := touched || '{Schema}.tables'::text;
                        dead := dead + cardinality(todo);
                    end if;

            """);

        // Tables the test only inserted into: the rows the template did not have go (told apart by their inserting transaction).
        body.Append("        if inserted is not null then\n");
        body.Append("            foreach r in array inserted loop\n");
        body.Append("                continue when r = any(todo);\n");
        body.Append(Dispatch("r", tables.Select(t =>
        {
            var delete = t.HasRows
                ? $"delete from only {t.QualifiedName} where xmin <> (select t.row_xmin from {Schema}.tables t where t.rel = {oid(t.Oid)})"
                : $"delete from only {t.QualifiedName}";
            return (t.Oid, $"{delete}; get diagnostics n = row_count; dead := dead + n; touched := touched || {Quote.Literal(t.QualifiedName)}::text;");
        }), 4));
        body.Append("            end loop;\n");
        body.Append("        end if;\n");

        // Sequences back to the template's values (nextval alone changes one, with no table written). A sequence the template
        // had used reads its last value through pg_sequence_last_value (null when not called); one it had not used is read
        // directly, since setval(s, n, false) would read as "not called" too.
        var seqBody = new StringBuilder();
        var called = sequences.Where(q => q.IsCalled).ToList();
        if (called.Count > 0)
        {
            seqBody.Append(CultureInfo.InvariantCulture, $"""
                    perform setval(v.seq::regclass, v.last_value, true)
                    from (values {string.Join(", ", called.Select(q => string.Create(CultureInfo.InvariantCulture, $"({oid(q.Oid)}::oid, {q.LastValue}::bigint)")))}) v(seq, last_value)
                    where pg_sequence_last_value(v.seq::regclass) is distinct from v.last_value;

                """);
        }

        foreach (var sequence in sequences.Where(q => !q.IsCalled))
        {
            seqBody.Append(CultureInfo.InvariantCulture,
                $"    if (select s.last_value = {sequence.LastValue} and not s.is_called from {sequence.QualifiedName} s) is not true then perform setval({oid(sequence.Oid)}::regclass, {sequence.LastValue}, false); end if;\n");
        }

        return $$"""
            create function {{Schema}}.restore(expected text[], db oid, out reason text, out ended int, out touched text[], out dead bigint) language plpgsql set search_path = pg_catalog as $$
            declare
                n bigint;
                p int;
                pids int[];
                ddl boolean;
                inserted oid[];
                rewritten oid[];
                todo oid[] := '{}';
                prepared boolean;
                objects boolean;
                settings text[];
                i int;
                r oid;
                tracked boolean := current_setting('track_activities')::boolean;
            begin
                ended := 0;
                touched := '{}';
                dead := 0;
                -- Client sessions (a client port: none for background workers) inside a transaction (one running a statement
                -- is inside one too) or holding advisory locks. Read through the per-backend functions, which build no row of
                -- pg_stat_activity's 30 columns for every session on the server. Without activity tracking no session shows a
                -- transaction, so then every other client session on the clone ends.
                pids := array(
                    select pg_stat_get_backend_pid(s) from pg_stat_get_backend_idset() s
                    where pg_stat_get_backend_dbid(s) = db and pg_stat_get_backend_client_port(s) is not null
                      and (pg_stat_get_backend_xact_start(s) is not null or not tracked)
                      and pg_stat_get_backend_pid(s) <> pg_backend_pid()
                    union
                    select l.pid from pg_locks l where l.locktype = 'advisory' and l.database = db and l.pid <> pg_backend_pid());
                foreach p in array pids loop
                    {{end}}
                    ended := ended + 1;
                end loop;
                -- Read after the sessions ended: what they had not committed is gone with them. Emptied in the same statement:
                -- a restore that stops here (a reason) leaves a clone that is dropped, and one that fails rolls this back.
                with d as (delete from {{Schema}}.dirty x returning x.rel, x.rewritten as was_rewritten)
                select coalesce(bool_or(d.rel = 0), false),
                       array_agg(distinct d.rel) filter (where not d.was_rewritten),
                       array_agg(distinct d.rel) filter (where d.was_rewritten and d.rel <> 0),
                       count(*),
                       exists (select from pg_prepared_xact() x where x.dbid = db),
                       exists (select from pg_largeobject_metadata),
                       (select coalesce(array_agg(s.setrole::text || ':' || c order by s.setrole, c), '{}')
                        from pg_db_role_setting s cross join lateral unnest(s.setconfig) c where s.setdatabase = db)
                  into ddl, inserted, rewritten, n, prepared, objects, settings
                  from d;
                if n > 0 then
                    dead := n;
                    touched := array['{{Schema}}.dirty'];
                end if;
                if prepared then
                    reason := 'a prepared transaction is pending'; return;
                end if;
                if ddl then
                    reason := 'the test ran DDL'; return;
                end if;
                if objects then
                    reason := 'the test created large objects'; return;
                end if;
                if settings is distinct from expected then
                    reason := 'the database settings changed (ALTER DATABASE … SET)'; return;
                end if;
                if inserted is not null or rewritten is not null then
                    if not (coalesce(inserted, '{}') || coalesce(rewritten, '{}')) <@ {{all}} then
                        reason := 'the test wrote a table Deflake does not track'; return;
                    end if;
                    -- Deflake's restore sessions hold these for the whole session; set here only for a session that does not.
                    if current_setting('session_replication_role') <> 'replica' or current_setting('lock_timeout') <> '5s'
                       or not ({{Restoring}}) then
                        perform set_config('{{RestoringSetting}}', 'on', true);
                        perform set_config('session_replication_role', 'replica', true);
                        perform set_config('synchronize_seqscans', 'off', true);
                        perform set_config('max_parallel_workers_per_gather', '0', true);
                        perform set_config('lock_timeout', '5s', true);
                    end if;
            {{body}}
                end if;
            {{seqBody}}
                reason := null;
            end $$;

            """;
    }

    /// <summary>
    /// PL/pgSQL that runs the statement of the table whose oid <paramref name="variable"/> holds: a balanced tree of
    /// comparisons over the oids (nothing runs for an oid not listed).
    /// </summary>
    private static string Dispatch(string variable, IEnumerable<(uint Oid, string Statement)> cases, int depth)
    {
        var sorted = cases.OrderBy(c => c.Oid).ToList();
        var sql = new StringBuilder();
        Append(0, sorted.Count, depth);
        return sql.ToString();

        void Append(int from, int to, int level)
        {
            var indent = new string(' ', 4 * level);
            if (to - from <= 3)
            {
                for (var i = from; i < to; i++)
                {
                    sql.Append(CultureInfo.InvariantCulture, $"{indent}{(i == from ? "if" : "elsif")} {variable} = {sorted[i].Oid} then {sorted[i].Statement}\n");
                }

                if (to > from)
                {
                    sql.Append(indent).Append("end if;\n");
                }

                return;
            }

            var middle = (from + to) / 2;
            sql.Append(CultureInfo.InvariantCulture, $"{indent}if {variable} < {sorted[middle].Oid} then\n");
            Append(from, middle, level + 1);
            sql.Append(indent).Append("else\n");
            Append(middle, to, level + 1);
            sql.Append(indent).Append("end if;\n");
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
