using System.Data.Common;
using System.Globalization;
using System.Text;
using Deflake;

/// <summary>The same 20-table schema with seed rows for every side-by-side comparison.</summary>
public static class BenchSchema
{
    public const int Tables = 20;
    public const int RowsPerTable = 50;

    public static string Sql { get; } = Build();

    /// <summary>Only the seed rows of every table (the INSERTs of <see cref="Sql"/>).</summary>
    public static string SeedSql { get; } = string.Join('\n', Sql.Split('\n').Where(line => line.StartsWith("INSERT", StringComparison.Ordinal)));

    public static SchemaSource Source(string version = "bench-20-tables-v1") =>
        SchemaSource.FromDelegate("bench", version, (connection, ct) => ApplyAsync(connection, ct));

    public static async Task ApplyAsync(DbConnection connection, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Build()
    {
        var sql = new StringBuilder();
        for (var t = 1; t <= Tables; t++)
        {
            sql.Append(CultureInfo.InvariantCulture, $"CREATE TABLE t{t:00} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, amount INTEGER NOT NULL, note TEXT);\n");
            sql.Append(CultureInfo.InvariantCulture, $"CREATE INDEX ix_t{t:00}_name ON t{t:00} (name);\n");
            sql.Append(CultureInfo.InvariantCulture, $"INSERT INTO t{t:00} (id, name, amount, note) VALUES ");
            sql.Append(string.Join(", ", Enumerable.Range(1, RowsPerTable).Select(r => string.Create(CultureInfo.InvariantCulture, $"({r}, 'row {r}', {r * 7}, 'seeded')"))));
            sql.Append(";\n");
        }

        return sql.ToString();
    }
}
