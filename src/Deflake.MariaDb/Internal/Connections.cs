using System.Data;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb.Internal;

/// <summary>
/// Every MySql.Data connection Deflake makes or hands out. MySql.Data 8.0.16 sends <c>SET character_set_results=NULL</c>
/// when it connects, so the server answers in each column's own character set; MariaDB 10.6 and later call its
/// metadata character set <c>utf8mb3</c>, which that driver cannot decode (<c>SELECT VERSION()</c> fails with
/// "The given key … was not present in the dictionary" and the session is out of step afterwards). Each open
/// therefore sets <c>SET NAMES utf8mb4</c> first.
/// </summary>
internal static class Connections
{
    public static MySqlConnection Create(string connectionString)
    {
        var connection = new MySqlConnection(connectionString);
        connection.StateChange += OnStateChange;
        return connection;
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

    private static void OnStateChange(object sender, StateChangeEventArgs e)
    {
        if (e.CurrentState == ConnectionState.Open && e.OriginalState != ConnectionState.Open && sender is MySqlConnection connection)
        {
            using var command = new MySqlCommand("SET NAMES utf8mb4", connection);
            command.ExecuteNonQuery();
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
