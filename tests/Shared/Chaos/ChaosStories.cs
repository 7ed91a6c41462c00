using System.Data.Common;
using System.Globalization;

namespace Deflake.Chaos.Stories;

/// <summary>
/// The two stories the chaos modes solve, as app code plus the buggy assertion a test makes. Plain ADO.NET with SQL
/// that SQLite and PostgreSQL both accept, so every engine runs the same story.
/// </summary>
public static class ChaosStories
{
    /// <summary>Seed 000: creating a Foo creates its paired Bar and an audit row for the Bar.</summary>
    public static async Task<(long FooId, long BarId)> CreateFooAsync(DbConnection connection, string name, CancellationToken cancellationToken = default)
    {
        var fooId = await ScalarAsync(connection, $"INSERT INTO foos (name) VALUES ('{name}') RETURNING id", cancellationToken);
        var barId = await ScalarAsync(connection, $"INSERT INTO bars (foo_id) VALUES ({fooId}) RETURNING id", cancellationToken);
        await ScalarAsync(connection, $"INSERT INTO audit_log (entity, entity_id, action) VALUES ('bar', {barId}, 'created') RETURNING id", cancellationToken);
        return (fooId, barId);
    }

    /// <summary>
    /// The buggy test of seed 000: it looks up the Bar's audit row by the Foo's id. True when the assertion holds
    /// (the test passes), which it does only while foos and bars count in step.
    /// </summary>
    public static async Task<bool> AuditRowFoundByTheWrongIdAsync(DbConnection connection, CancellationToken cancellationToken = default)
    {
        var (fooId, _) = await CreateFooAsync(connection, "first", cancellationToken);
        var found = await ScalarAsync(connection, $"SELECT COUNT(*) FROM audit_log WHERE entity = 'bar' AND entity_id = {fooId}", cancellationToken);
        return found == 1;
    }

    /// <summary>Seed 001's writes: insert 1, 2, 3; delete 1; insert 1.</summary>
    public static async Task InsertDeleteReinsertAsync(DbConnection connection, CancellationToken cancellationToken = default)
    {
        await ExecuteAsync(connection, "INSERT INTO t (x) VALUES (1), (2), (3)", cancellationToken);
        await ExecuteAsync(connection, "DELETE FROM t WHERE x = 1", cancellationToken);
        await ExecuteAsync(connection, "INSERT INTO t (x) VALUES (1)", cancellationToken);
    }

    /// <summary>The order of t's rows after <see cref="InsertDeleteReinsertAsync"/>, as the heap returns them.</summary>
    public static readonly long[] InsertionOrder = [2, 3, 1];

    /// <summary>Reads the first column of every row of <c>sql</c> as text.</summary>
    public static async Task<List<string>> ReadTextAsync(DbConnection connection, string sql, CancellationToken cancellationToken = default)
    {
        var values = new List<string>();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    /// <summary>Reads column x of every row of <c>sql</c>.</summary>
    public static async Task<List<long>> ReadAsync(DbConnection connection, string sql, CancellationToken cancellationToken = default)
    {
        var values = new List<long>();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture));
        }

        return values;
    }

    public static async Task<long> ScalarAsync(DbConnection connection, string sql, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    public static async Task ExecuteAsync(DbConnection connection, string sql, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
