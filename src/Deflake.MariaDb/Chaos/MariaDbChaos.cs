using System.Globalization;
using System.Text;
using Deflake.MariaDb.Internal;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb.Chaos;

/// <summary>
/// Chaos that lives in the MariaDB template. <see cref="ChaosModes.Identities"/>: every AUTO_INCREMENT column's table
/// starts in its own seeded range (<see cref="IdentityRangePlan"/>, keys <c>table.column</c>) through
/// <c>ALTER TABLE … AUTO_INCREMENT = n</c>; clones copy the counter. MariaDB's <c>TRUNCATE</c> sends the counter back
/// to 1, so a test that truncates loses its range (docs/chaos.md says so). <see cref="ChaosModes.Rows"/>: every base table
/// is renamed to a hidden name (<see cref="HiddenPrefix"/>) and a view of the table's own name reads it in descending
/// primary-key order; clones copy both (views after tables).
/// </summary>
internal static class MariaDbTemplateChaos
{
    /// <summary>The prefix of a table's hidden name under rows chaos; the view keeps the table's own name.</summary>
    public const string HiddenPrefix = "__deflake_rows_";

    /// <summary>MariaDB's limit on the length of a table or constraint name, in characters.</summary>
    private const int MaxIdentifierLength = 64;

    /// <summary>
    /// Rows chaos, once in the template: renames every base table <c>t</c> to <c>__deflake_rows_t</c> (one atomic
    /// <c>RENAME TABLE</c>; foreign keys follow, AUTO_INCREMENT counters stay) and creates a view <c>t</c> =
    /// <c>SELECT * FROM __deflake_rows_t ORDER BY &lt;primary key&gt; DESC</c>.
    /// </summary>
    /// <remarks>
    /// Why descending and not seeded: a view whose <c>ORDER BY</c> reads its own table again (a subquery) is not insertable
    /// in MariaDB (error 1471), so the PostgreSQL view's pivot on the first row cannot be written in the view (a stored
    /// function could hide the read, but routines are not cloned yet); over the key alone, only the reverse of InnoDB's
    /// scan order (primary-key order) keeps the row the server returns first from ever coming first, for every set of two
    /// or more rows (a seeded hash order misses 1 in n! of the time). The order is therefore the same for every seed, and one template serves all seeds.
    /// Tables with no primary key (nor a single all-NOT-NULL unique key, which InnoDB would cluster on) come back in
    /// insertion order, which no column records: they are ordered by all their columns descending and reported as not
    /// covered, as are non-InnoDB and partitioned tables and the schema's own views. Tables with an <c>INVISIBLE</c> column
    /// stay tables (a view's <c>SELECT *</c> would drop the column, and writes naming it would fail) and are reported.
    /// </remarks>
    public static async Task<MariaDbRowChaosReport> ApplyRowsAsync(MySqlConnection connection, ILogger logger, CancellationToken cancellationToken)
    {
        var objects = await Connections.RowsAsync(connection, """
            SELECT TABLE_NAME, TABLE_TYPE, COALESCE(ENGINE, ''), COALESCE(CREATE_OPTIONS, '')
            FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME
            """, cancellationToken).ConfigureAwait(false);
        var keys = await Connections.RowsAsync(connection, """
            SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, NON_UNIQUE, NULLABLE
            FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX
            """, cancellationToken).ConfigureAwait(false);
        var columns = await Connections.RowsAsync(connection, """
            SELECT TABLE_NAME, COLUMN_NAME, UPPER(EXTRA) LIKE '%INVISIBLE%' FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION
            """, cancellationToken).ConfigureAwait(false);
        var invisible = columns.Where(c => Convert.ToInt64(c[2], CultureInfo.InvariantCulture) != 0)
            .GroupBy(c => (string)c[0]!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => string.Join(", ", g.Select(c => Quote.Identifier((string)c[1]!))), StringComparer.Ordinal);

        var tables = new List<string>();
        var notCovered = new List<string>();
        foreach (var row in objects)
        {
            var name = (string)row[0]!;
            if (name.StartsWith(HiddenPrefix, StringComparison.Ordinal))
            {
                throw new InvalidOperationException(
                    $"Deflake rows chaos cannot hide the MariaDB tables: the schema already has a {((string)row[1]!).ToLowerInvariant()} {Quote.Identifier(name)}, and {HiddenPrefix}* is the name rows chaos gives each table; rename it, or run without rows.");
            }

            if ((string)row[1]! == "VIEW")
            {
                notCovered.Add($"{name} (a view of the schema: MariaDB drops the order of a view read inside another view, so it reads its tables unshuffled)");
                continue;
            }

            if (HiddenPrefix.Length + name.Length > MaxIdentifierLength)
            {
                throw new InvalidOperationException(
                    $"Deflake rows chaos cannot hide MariaDB table {Quote.Identifier(name)}: its hidden name {HiddenPrefix}{name} would have {HiddenPrefix.Length + name.Length} characters, over MariaDB's limit of {MaxIdentifierLength}; shorten the table's name to {MaxIdentifierLength - HiddenPrefix.Length} characters, or run without rows.");
            }

            if (invisible.TryGetValue(name, out var hiddenColumns))
            {
                notCovered.Add($"{name} (not shuffled: its INVISIBLE column(s) {hiddenColumns} cannot be carried by a view, so it stays a table)");
                continue;
            }

            tables.Add(name);
            var engine = (string)row[2]!;
            if (!engine.Equals("InnoDB", StringComparison.OrdinalIgnoreCase))
            {
                notCovered.Add($"{name} (engine {engine} returns rows in storage order, not key order)");
            }
            else if (((string)row[3]!).Contains("partitioned", StringComparison.OrdinalIgnoreCase))
            {
                notCovered.Add($"{name} (partitioned: the server reads it partition by partition, not in key order)");
            }
        }

        if (tables.Count == 0)
        {
            return new MariaDbRowChaosReport(new Dictionary<string, string>(), notCovered);
        }

        var orders = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var table in tables)
        {
            var indexes = keys.Where(k => (string)k[0]! == table)
                .GroupBy(k => (string)k[1]!, StringComparer.Ordinal)
                .Select(g => (Name: g.Key, Columns: g.Select(k => (string)k[2]!).ToList(),
                    Unique: g.All(k => Convert.ToInt64(k[3], CultureInfo.InvariantCulture) == 0), NotNull: g.All(k => !"YES".Equals(k[4] as string, StringComparison.OrdinalIgnoreCase))))
                .ToList();
            var primary = indexes.FirstOrDefault(i => i.Name == "PRIMARY").Columns;
            if (primary is null)
            {
                // InnoDB clusters a table without a primary key on its first all-NOT-NULL unique key: sound when there is one only.
                var candidates = indexes.Where(i => i.Unique && i.NotNull).ToList();
                primary = candidates.Count == 1 ? candidates[0].Columns : null;
            }

            List<string> order;
            if (primary is not null)
            {
                order = primary;
            }
            else
            {
                order = columns.Where(c => (string)c[0]! == table).Select(c => (string)c[1]!).ToList();
                notCovered.Add($"{table} (no primary key: InnoDB returns its rows in insertion order, which no column records; "
                    + "ordered by all its columns descending, which differs only when rows were not inserted in that order; add a primary key)");
            }

            orders[table] = "ORDER BY " + string.Join(", ", order.Select(c => Quote.Identifier(c) + " DESC"));
        }

        // InnoDB renames a foreign key's generated name with its table (t_ibfk_1 → __deflake_rows_t_ibfk_1) and does not
        // check the length; information_schema then shows it cut at 64 and every clone's CREATE TABLE would fail. Check first.
        var foreignKeys = await Connections.RowsAsync(connection, """
            SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY TABLE_NAME, CONSTRAINT_NAME
            """, cancellationToken).ConfigureAwait(false);
        foreach (var row in foreignKeys)
        {
            var (table, constraint) = ((string)row[0]!, (string)row[1]!);
            if (constraint.StartsWith(table + "_ibfk_", StringComparison.Ordinal) && HiddenPrefix.Length + constraint.Length > MaxIdentifierLength)
            {
                throw new InvalidOperationException(
                    $"Deflake rows chaos cannot hide MariaDB table {Quote.Identifier(table)}: MariaDB would rename its foreign key {Quote.Identifier(constraint)} with it, to {HiddenPrefix}{constraint}, over the limit of {MaxIdentifierLength} characters; name the constraint (CONSTRAINT name FOREIGN KEY …) or shorten the table's name, or run without rows.");
            }
        }

        var sql = new StringBuilder("RENAME TABLE ");
        sql.AppendJoin(", ", tables.Select(t => $"{Quote.Identifier(t)} TO {Quote.Identifier(HiddenPrefix + t)}")).Append(';');
        foreach (var table in tables)
        {
            sql.Append(CultureInfo.InvariantCulture,
                $"CREATE ALGORITHM=MERGE SQL SECURITY INVOKER VIEW {Quote.Identifier(table)} AS SELECT * FROM {Quote.Identifier(HiddenPrefix + table)} {orders[table]};");
        }

        await Connections.ExecuteAsync(connection, sql.ToString(), cancellationToken).ConfigureAwait(false);

        if (notCovered.Count > 0)
        {
            logger.LogWarning("Deflake rows does not guarantee a changed order for {Count} MariaDB table(s)/view(s): {Objects}",
                notCovered.Count, string.Join("; ", notCovered));
        }

        logger.LogDebug("Deflake rows: {Count} MariaDB table(s) read through views in descending key order (the same for every seed)", tables.Count);
        return new MariaDbRowChaosReport(orders, notCovered);
    }

    public static async Task<IdentityChaosReport> ApplyIdentitiesAsync(MySqlConnection connection, int seed, ILogger logger, CancellationToken cancellationToken)
    {
        var (report, tables) = await PlanIdentitiesAsync(connection, null, seed, cancellationToken).ConfigureAwait(false);
        var sql = new StringBuilder();
        foreach (var (key, start) in report.Starts)
        {
            sql.Append(CultureInfo.InvariantCulture, $"ALTER TABLE {Quote.Identifier(tables[key])} AUTO_INCREMENT = {start};");
        }

        if (sql.Length > 0)
        {
            await Connections.ExecuteAsync(connection, sql.ToString(), cancellationToken).ConfigureAwait(false);
        }

        if (report.NotCovered.Count > 0)
        {
            logger.LogWarning("Deflake identities does not cover {Count} MariaDB column(s); they still count from 1: {Columns}",
                report.NotCovered.Count, string.Join("; ", report.NotCovered));
        }

        logger.LogDebug("Deflake identities: {Count} AUTO_INCREMENT table(s) moved to seeded ranges (seed {Seed})", report.Starts.Count, seed);
        return report;
    }

    /// <summary>
    /// What <see cref="ApplyIdentitiesAsync"/> did to a finished template, read from the catalog without connecting to it
    /// (a template reused by another process): the same plan, from the same columns and seed. Under rows chaos a base
    /// table has its hidden name, which counts as the table's own, as when the plan was made.
    /// </summary>
    public static async Task<IdentityChaosReport> ReportIdentitiesAsync(MySqlConnection connection, string template, int seed, CancellationToken cancellationToken)
        => (await PlanIdentitiesAsync(connection, template, seed, cancellationToken).ConfigureAwait(false)).Report;

    /// <summary>
    /// The AUTO_INCREMENT columns of the base tables of <paramref name="schema"/> (null: the connection's database), each
    /// key <c>table.column</c> with its start, or not covered when its type cannot hold the range; and each key's table.
    /// </summary>
    private static async Task<(IdentityChaosReport Report, Dictionary<string, string> Tables)> PlanIdentitiesAsync(
        MySqlConnection connection, string? schema, int seed, CancellationToken cancellationToken)
    {
        var rows = await Connections.RowsAsync(connection, """
            SELECT c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE
            FROM information_schema.COLUMNS c
            JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
            WHERE c.TABLE_SCHEMA = COALESCE(@schema, DATABASE()) AND t.TABLE_TYPE = 'BASE TABLE' AND c.EXTRA LIKE '%auto_increment%'
            ORDER BY c.TABLE_NAME
            """, cancellationToken, ("@schema", schema)).ConfigureAwait(false);
        var columns = rows.Select(r => (Table: (string)r[0]!, Column: (string)r[1]!, Max: MaxOf((string)r[2]!, ((string)r[3]!).Contains("unsigned", StringComparison.OrdinalIgnoreCase)))).ToList();
        string KeyOf(string table, string column)
            => $"{(schema is not null && table.StartsWith(HiddenPrefix, StringComparison.Ordinal) ? table[HiddenPrefix.Length..] : table)}.{column}";
        var plan = IdentityRangePlan.Create(seed, columns.Select(c => KeyOf(c.Table, c.Column)));
        var starts = new Dictionary<string, long>(StringComparer.Ordinal);
        var tables = new Dictionary<string, string>(StringComparer.Ordinal);
        var notCovered = new List<NotCoveredKey>();
        foreach (var (table, column, max) in columns)
        {
            var key = KeyOf(table, column);
            var start = plan.StartOf(key);
            if (start + IdentityRangePlan.Spacing > max)
            {
                notCovered.Add(new NotCoveredKey(key, $"its type stops at {max.ToString(CultureInfo.InvariantCulture)}"));
                continue;
            }

            starts[key] = start;
            tables[key] = table;
        }

        return (new IdentityChaosReport(starts, notCovered), tables);
    }

    private static long MaxOf(string dataType, bool unsigned) => dataType.ToLowerInvariant() switch
    {
        "tinyint" => unsigned ? byte.MaxValue : sbyte.MaxValue,
        "smallint" => unsigned ? ushort.MaxValue : short.MaxValue,
        "mediumint" => unsigned ? 16_777_215 : 8_388_607,
        "int" or "integer" => unsigned ? uint.MaxValue : int.MaxValue,
        _ => long.MaxValue,
    };
}
