using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Deflake.MariaDb.Internal;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb.Recycling;

/// <summary>
/// Recycling a returned MariaDB clone in place, without anything installed in the clone (no triggers, no extra tables):
/// <list type="number">
/// <item>sessions still on the clone are ended when any of them is busy (running a statement, inside a transaction,
/// holding a table or user lock: <c>LOCK TABLES</c>, <c>GET_LOCK</c>) or when the server cannot show its locks, and then
/// this process's pooled connections to the clone are cleared too. Idle sessions that hold nothing stay in the app's pool
/// and MySql.Data resets them when the next test takes them: the next test starts with no session state (temporary
/// tables, user variables, <c>SET SESSION</c>, locks) of the last one;</item>
/// <item>the schema is read in one round trip (<c>SHOW FULL TABLES</c>, each table's <c>SHOW CREATE TABLE</c> without its
/// AUTO_INCREMENT counter, each view's <c>SHOW CREATE VIEW</c>, <c>SHOW TRIGGERS</c>, routines and events,
/// <c>SHOW CREATE DATABASE</c>) and compared with what the clone had when it was made: any difference (DDL) means a new
/// clone;</item>
/// <item>every base table is emptied with <c>DELETE</c> and refilled from the template (a real database on the same server)
/// with <c>INSERT … SELECT</c>, in one transaction with foreign key checks off; then <c>ALTER TABLE … AUTO_INCREMENT</c>
/// only for the tables whose counter moved (inserts, rolled-back inserts, <c>TRUNCATE</c>).</item>
/// </list>
/// Why every table and not only the written ones: MariaDB has row triggers only, and creating three per table costs as
/// much as the clone itself (measured: 60 <c>CREATE TRIGGER</c> ≈ 130 ms against ≈ 140 ms for the 20-table clone), slows
/// every row a test writes, misses <c>TRUNCATE</c> and foreign-key cascades, and needs the same schema check to notice a
/// dropped trigger; the refill of the 20-table, 1,000-row bench schema takes ≈ 1.3 ms on the server. Row order is the
/// template's: InnoDB returns rows in key order, and a table without a key gets them in the template's order, as a new
/// clone does (rows chaos orders its views by key, so a recycled database answers in the same order as a new one).
/// Why idle pooled connections are kept when the server can show its locks: a new MySql.Data connection costs about
/// 8 ms (its <c>SHOW VARIABLES</c> and <c>SHOW COLLATION</c> read 675 and 1,242 rows), four times the rest of a restore.
/// Clones' connection strings carry <c>ConnectionReset=true</c>, so MySql.Data resets a pooled session (user variables,
/// <c>SET SESSION</c>, temporary tables) when the next test takes it (about 0.4 ms an open); sessions that are busy — a
/// statement running, a transaction open, a table or user lock held (MariaDB's <c>metadata_lock_info</c> plugin shows
/// them; the throwaway server loads it) — cannot wait for that and are ended, with every other session on the clone and
/// this process's pool, as on a server without the plugin.
/// </summary>
internal static partial class MariaDbRecycling
{
    /// <summary>What a restore needs to know of a template, read once per template (templates never change).</summary>
    internal sealed record Plan(string Template, string[] Tables, string[] Views, (string Table, string Columns)[] WithRows);

    /// <summary>The schema of a clone as made: compared at every restore.</summary>
    internal sealed record Snapshot(string Schema, IReadOnlyDictionary<string, long?> Counters, IReadOnlyDictionary<string, long?> Checksums);

    /// <summary>What the engine keeps of a clone it made (its <see cref="EngineDatabase.State"/>).</summary>
    internal sealed record CloneState(Plan Plan, Snapshot Snapshot);

    /// <summary>Reads the plan of a template (its base tables, views, and the stored columns of the tables with rows).</summary>
    public static async Task<Plan> ReadPlanAsync(MySqlConnection admin, string template, CancellationToken cancellationToken)
    {
        var objects = await Connections.RowsAsync(admin,
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = @db ORDER BY TABLE_NAME", cancellationToken, ("@db", template)).ConfigureAwait(false);
        var tables = objects.Where(o => (string)o[1]! != "VIEW").Select(o => (string)o[0]!).ToArray();
        var views = objects.Where(o => (string)o[1]! == "VIEW").Select(o => (string)o[0]!).ToArray();
        var columns = await Connections.RowsAsync(admin, """
            SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS
            WHERE TABLE_SCHEMA = @db AND COALESCE(GENERATION_EXPRESSION, '') = ''
            ORDER BY TABLE_NAME, ORDINAL_POSITION
            """, cancellationToken, ("@db", template)).ConfigureAwait(false);
        var withRows = new List<(string, string)>();
        foreach (var table in tables)
        {
            var hasRows = await Connections.ScalarAsync(admin, $"SELECT EXISTS (SELECT 1 FROM {Quote.Identifier(template)}.{Quote.Identifier(table)})", cancellationToken).ConfigureAwait(false);
            if (Convert.ToInt64(hasRows, CultureInfo.InvariantCulture) == 0)
            {
                continue;
            }

            var list = string.Join(", ", columns.Where(c => (string)c[0]! == table).Select(c => Quote.Identifier((string)c[1]!)));
            withRows.Add((table, list));
        }

        return new Plan(template, tables, views, [.. withRows]);
    }

    /// <summary>
    /// Reads a clone's schema in one round trip: the objects, each table's definition without its AUTO_INCREMENT counter
    /// (returned apart), each view's definition, and whether it has triggers, routines or events.
    /// </summary>
    public static async Task<Snapshot> ReadSnapshotAsync(MySqlConnection admin, string database, Plan plan, CancellationToken cancellationToken)
    {
        var db = Quote.Identifier(database);
        var sql = new StringBuilder();
        sql.Append(CultureInfo.InvariantCulture, $"SHOW CREATE DATABASE {db};SHOW FULL TABLES FROM {db};SHOW TRIGGERS FROM {db};");
        sql.Append(CultureInfo.InvariantCulture, $"SELECT (SELECT COUNT(*) FROM mysql.proc WHERE db = {Quote.Literal(database)}) + (SELECT COUNT(*) FROM mysql.event WHERE db = {Quote.Literal(database)});");
        foreach (var table in plan.Tables)
        {
            sql.Append(CultureInfo.InvariantCulture, $"SHOW CREATE TABLE {db}.{Quote.Identifier(table)};");
        }

        foreach (var view in plan.Views)
        {
            sql.Append(CultureInfo.InvariantCulture, $"SHOW CREATE VIEW {db}.{Quote.Identifier(view)};");
        }

        // Every table's content checksum (a scan of its rows, in the same round trip): a restore refills only the tables
        // whose checksum moved, instead of all of them.
        var checksumResult = 4 + plan.Tables.Length + plan.Views.Length;
        if (plan.Tables.Length > 0)
        {
            sql.Append("CHECKSUM TABLE ").Append(string.Join(", ", plan.Tables.Select(t => db + "." + Quote.Identifier(t)))).Append(';');
        }

        var schema = new StringBuilder();
        var counters = new Dictionary<string, long?>(StringComparer.Ordinal);
        var checksums = new Dictionary<string, long?>(StringComparer.Ordinal);
        var checksummed = 0;
        var command = new MySqlCommand(sql.ToString(), admin) { CommandTimeout = 0 };
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var result = 0;
                do
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        if (result == checksumResult)
                        {
                            // One row per table, in the order named.
                            checksums[plan.Tables[checksummed++]] = reader.IsDBNull(1) ? null : Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture);
                            continue;
                        }

                        var tableIndex = result - 4;
                        if (tableIndex >= 0 && tableIndex < plan.Tables.Length)
                        {
                            var (definition, counter) = SplitCounter(reader.GetString(1));
                            counters[plan.Tables[tableIndex]] = counter;
                            schema.Append(definition).Append('\n');
                            continue;
                        }

                        for (var i = 0; i < reader.FieldCount; i++)
                        {
                            schema.Append(reader.IsDBNull(i) ? "\\N" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture)).Append('\t');
                        }

                        schema.Append('\n');
                    }

                    schema.Append("--\n");
                    result++;
                }
                while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
            }
        }

        return new Snapshot(schema.ToString(), counters, checksums);
    }

    /// <summary>A table's <c>SHOW CREATE TABLE</c> without the <c>AUTO_INCREMENT=n</c> of its options line, and n (null when absent).</summary>
    internal static (string Definition, long? Counter) SplitCounter(string createTable)
    {
        var options = createTable.LastIndexOf("\n) ", StringComparison.Ordinal);
        if (options < 0)
        {
            return (createTable, null);
        }

        var tail = createTable[options..];
        var match = CounterOption().Match(tail);
        if (!match.Success)
        {
            return (createTable, null);
        }

        return (createTable[..options] + tail.Remove(match.Index, match.Length), long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@" AUTO_INCREMENT=([0-9]+)")]
    private static partial Regex CounterOption();

    /// <summary>
    /// Whether the server tells who holds which lock (MariaDB's <c>metadata_lock_info</c> plugin is active): only then can a
    /// restore tell an idle session that holds nothing from one that holds a lock, and keep the idle ones.
    /// </summary>
    public static async Task<bool> SeesLocksAsync(MySqlConnection admin, CancellationToken cancellationToken)
    {
        var active = await Connections.ScalarAsync(admin,
            "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' AND PLUGIN_STATUS = 'ACTIVE'", cancellationToken).ConfigureAwait(false);
        return Convert.ToInt64(active, CultureInfo.InvariantCulture) > 0;
    }

    /// <summary>
    /// Whether any session on <paramref name="database"/> (but the caller's) is busy — running a statement, inside an InnoDB
    /// transaction, or holding any metadata lock (a table used by an open transaction, <c>LOCK TABLES</c>, a
    /// <c>GET_LOCK</c> user lock). The others are idle and hold nothing: their state (user variables, <c>SET SESSION</c>,
    /// temporary tables) is reset by MySql.Data when the next test takes them from the pool (clones' connection strings
    /// carry <c>ConnectionReset=true</c>); a busy one would block the restore or hand its locks on. Needs
    /// <see cref="SeesLocksAsync"/>.
    /// </summary>
    public static async Task<bool> HasBusySessionsAsync(MySqlConnection admin, string database, CancellationToken cancellationToken)
    {
        var busy = await Connections.ScalarAsync(admin, """
            SELECT EXISTS (
                SELECT 1 FROM information_schema.PROCESSLIST p
                WHERE p.DB = @db AND p.ID <> CONNECTION_ID()
                  AND (p.COMMAND <> 'Sleep'
                    OR EXISTS (SELECT 1 FROM information_schema.METADATA_LOCK_INFO m WHERE m.THREAD_ID = p.ID)
                    OR EXISTS (SELECT 1 FROM information_schema.INNODB_TRX t WHERE t.trx_mysql_thread_id = p.ID)))
            """, cancellationToken, ("@db", database)).ConfigureAwait(false);
        return Convert.ToInt64(busy, CultureInfo.InvariantCulture) != 0;
    }

    /// <summary>
    /// Kills every session on <paramref name="database"/> but the caller's (the app's pooled ones must have been cleared
    /// first); returns how many it killed.
    /// </summary>
    public static async Task<int> KillSessionsAsync(MySqlConnection admin, string database, CancellationToken cancellationToken)
    {
        var sessions = await Connections.RowsAsync(admin, "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = @db AND ID <> CONNECTION_ID()",
            cancellationToken, ("@db", database)).ConfigureAwait(false);
        var killed = 0;
        foreach (var session in sessions)
        {
            try
            {
                await Connections.ExecuteAsync(admin, $"KILL CONNECTION {Convert.ToInt64(session[0], CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)}", cancellationToken).ConfigureAwait(false);
                killed++;
            }
            catch (MySqlException ex) when (ex.Number == 1094)
            {
                // Unknown thread id: it ended by itself (a pooled connection the clear just closed).
            }
        }

        return killed;
    }

    /// <summary>
    /// Restores the clone when its schema is still the one it was made with; returns null when restored, else why not.
    /// Waits at most <paramref name="lockWait"/> for locks of sessions being killed (their rollback) before giving up.
    /// </summary>
    public static async Task<string?> RestoreAsync(MySqlConnection admin, string database, CloneState state, TimeSpan lockWait, CancellationToken cancellationToken)
    {
        Snapshot now;
        try
        {
            now = await ReadSnapshotAsync(admin, database, state.Plan, cancellationToken).ConfigureAwait(false);
        }
        catch (MySqlException ex) when (ex.Number is 1049 or 1146 or 1347 or 1356)
        {
            // Unknown database or table, not a view, or a view whose tables are gone: dropped or renamed by the test.
            return $"the test changed the schema (DDL: error {ex.Number.ToString(CultureInfo.InvariantCulture)})";
        }

        if (!string.Equals(now.Schema, state.Snapshot.Schema, StringComparison.Ordinal))
        {
            return "the test changed the schema (DDL: " + FirstDifference(state.Snapshot.Schema, now.Schema) + ")";
        }

        var db = Quote.Identifier(database);
        var template = Quote.Identifier(state.Plan.Template);
        var seconds = Math.Max(1, (long)Math.Ceiling(lockWait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var changed = state.Plan.Tables
            .Where(t => !state.Snapshot.Checksums.TryGetValue(t, out var before) || before is null || now.Checksums.GetValueOrDefault(t) != before)
            .ToHashSet(StringComparer.Ordinal);
        var sql = new StringBuilder();
        if (changed.Count > 0)
        {
            sql.Append("START TRANSACTION;");
            foreach (var table in state.Plan.Tables.Where(changed.Contains))
            {
                sql.Append(CultureInfo.InvariantCulture, $"DELETE FROM {db}.{Quote.Identifier(table)};");
            }

            foreach (var (table, columns) in state.Plan.WithRows.Where(w => changed.Contains(w.Table)))
            {
                sql.Append(CultureInfo.InvariantCulture, $"INSERT INTO {db}.{Quote.Identifier(table)} ({columns}) SELECT {columns} FROM {template}.{Quote.Identifier(table)};");
            }

            sql.Append("COMMIT;");
        }

        foreach (var (table, counter) in state.Snapshot.Counters)
        {
            // DELETE + INSERT leave a moved counter where it is; only ALTER (DDL, ≈1-2 ms) puts it back, so only where it moved.
            if (now.Counters.GetValueOrDefault(table) != counter)
            {
                sql.Append(CultureInfo.InvariantCulture, $"ALTER TABLE {db}.{Quote.Identifier(table)} AUTO_INCREMENT = {(counter ?? 1).ToString(CultureInfo.InvariantCulture)};");
            }
        }

        if (sql.Length == 0)
        {
            // Nothing the test wrote is left (or it wrote nothing): no statement to run.
            return null;
        }

        sql.Insert(0, string.Create(CultureInfo.InvariantCulture,
            $"SET SESSION foreign_key_checks = 0, unique_checks = 0, sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', innodb_lock_wait_timeout = {seconds}, lock_wait_timeout = {seconds};"));

        try
        {
            await Connections.ExecuteAsync(admin, sql.ToString(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await Connections.ExecuteAsync(admin,
                "ROLLBACK;SET SESSION foreign_key_checks = DEFAULT, unique_checks = DEFAULT, sql_mode = DEFAULT, innodb_lock_wait_timeout = DEFAULT, lock_wait_timeout = DEFAULT",
                CancellationToken.None).ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>The first line that differs, for the log (never data: only definitions).</summary>
    private static string FirstDifference(string before, string after)
    {
        var a = before.Split('\n');
        var b = after.Split('\n');
        for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            var x = i < a.Length ? a[i] : "(nothing)";
            var y = i < b.Length ? b[i] : "(nothing)";
            if (x != y)
            {
                return $"'{Shorten(x)}' became '{Shorten(y)}'";
            }
        }

        return "unknown";
    }

    private static string Shorten(string text) => text.Length <= 120 ? text.Trim() : text[..120].Trim() + "…";
}
