using MySql.Data.MySqlClient;

namespace Deflake.MariaDb.Internal;

/// <summary>
/// Every MySql.Data connection Deflake makes or hands out. MySql.Data 8.0.16 sends <c>SET character_set_results=NULL</c>
/// when it connects, so the server answers in each column's own character set; MariaDB 10.6 and later name its
/// metadata character set <c>utf8mb3</c>, which that driver does not know (<c>SELECT VERSION()</c> fails with
/// "The given key '9984' was not present in the dictionary" and the session is out of step afterwards). Setting
/// <c>SET NAMES</c> after opening does not help for new physical connections: the driver configures them after its
/// <c>StateChange</c> event. So the driver's own character-set table is taught once, per process, that <c>utf8mb3</c> is
/// its <c>utf8</c> (the same three-byte UTF-8).
/// </summary>
internal static class Connections
{
    private static readonly Lazy<bool> Utf8Mb3Known = new(TeachUtf8Mb3, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether the driver decodes <c>utf8mb3</c> columns (false only if a future MySql.Data changed its internals).</summary>
    public static bool DriverKnowsUtf8Mb3 => Utf8Mb3Known.Value;

    private static bool TeachUtf8Mb3()
    {
        var map = typeof(MySqlConnection).Assembly.GetType("MySql.Data.MySqlClient.CharSetMap");
        var mapping = map?.GetField("_mapping", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic);
        var gate = map?.GetField("LockObject", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)?.GetValue(null) ?? new object();
        if (mapping?.GetValue(null) is not System.Collections.IDictionary table)
        {
            return false;
        }

        lock (gate)
        {
            if (!table.Contains("utf8mb3") && table.Contains("utf8"))
            {
                table["utf8mb3"] = table["utf8"];
            }

            return table.Contains("utf8mb3");
        }
    }

    public static MySqlConnection Create(string connectionString)
    {
        _ = Utf8Mb3Known.Value;
        return new MySqlConnection(connectionString);
    }

    public static async Task<MySqlConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = Create(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public static void ClearPool(string connectionString)
    {
        using var connection = new MySqlConnection(connectionString);
        MySqlConnection.ClearPool(connection);
    }

    public static async Task ExecuteAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var command = new MySqlCommand(sql, connection) { CommandTimeout = 0 };
        await using (command.ConfigureAwait(false))
        {
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }

            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public static async Task<object?> ScalarAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var command = new MySqlCommand(sql, connection) { CommandTimeout = 0 };
        await using (command.ConfigureAwait(false))
        {
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }

            var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return result is DBNull ? null : result;
        }
    }

    public static async Task<List<object?[]>> RowsAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var rows = new List<object?[]>();
        var command = new MySqlCommand(sql, connection) { CommandTimeout = 0 };
        await using (command.ConfigureAwait(false))
        {
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }

            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var row = new object?[reader.FieldCount];
                    for (var i = 0; i < row.Length; i++)
                    {
                        row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                    }

                    rows.Add(row);
                }
            }
        }

        return rows;
    }

    /// <summary>Where a connection string points, for messages: never the password.</summary>
    public static string Where(MySqlConnectionStringBuilder builder)
        => builder.ConnectionProtocol == MySqlConnectionProtocol.Unix
            ? $"socket {builder.Server}"
            : $"{builder.Server}:{builder.Port}";
}
