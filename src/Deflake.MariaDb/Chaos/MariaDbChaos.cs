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
/// to 1, so a test that truncates loses its range (docs/chaos.md says so).
/// </summary>
internal static class MariaDbTemplateChaos
{
    public static async Task<IdentityChaosReport> ApplyIdentitiesAsync(MySqlConnection connection, int seed, ILogger logger, CancellationToken cancellationToken)
    {
        var rows = await Connections.RowsAsync(connection, """
            SELECT c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE
            FROM information_schema.COLUMNS c
            JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
            WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' AND c.EXTRA LIKE '%auto_increment%'
            ORDER BY c.TABLE_NAME
            """, cancellationToken).ConfigureAwait(false);
        var columns = rows.Select(r => (Table: (string)r[0]!, Column: (string)r[1]!, Max: MaxOf((string)r[2]!, ((string)r[3]!).Contains("unsigned", StringComparison.OrdinalIgnoreCase)))).ToList();
        var plan = IdentityRangePlan.Create(seed, columns.Select(c => $"{c.Table}.{c.Column}"));
        var sql = new StringBuilder();
        var starts = new Dictionary<string, long>(StringComparer.Ordinal);
        var notCovered = new List<string>();
        foreach (var (table, column, max) in columns)
        {
            var key = $"{table}.{column}";
            var start = plan.StartOf(key);
            if (start + IdentityRangePlan.Spacing > max)
            {
                notCovered.Add($"{key} (its type stops at {max.ToString(CultureInfo.InvariantCulture)})");
                continue;
            }

            starts[key] = start;
            sql.Append(CultureInfo.InvariantCulture, $"ALTER TABLE {Quote.Identifier(table)} AUTO_INCREMENT = {start};");
        }

        if (sql.Length > 0)
        {
            await Connections.ExecuteAsync(connection, sql.ToString(), cancellationToken).ConfigureAwait(false);
        }

        if (notCovered.Count > 0)
        {
            logger.LogWarning("Deflake identities does not cover {Count} MariaDB column(s); they still count from 1: {Columns}",
                notCovered.Count, string.Join("; ", notCovered));
        }

        logger.LogDebug("Deflake identities: {Count} AUTO_INCREMENT table(s) moved to seeded ranges (seed {Seed})", starts.Count, seed);
        return new IdentityChaosReport(starts, notCovered);
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
