using Deflake.MariaDb.Internal;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb.Tests;

/// <summary>
/// The one MariaDB server every test in this process uses: <c>DEFLAKE_MARIADB</c> when set, otherwise the throwaway
/// local server, started (or attached to) once per test process.
/// </summary>
public static class MariaDbTestServer
{
    private static readonly Lazy<Task<string>> AdminConnectionString = new(StartAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether the tests run on a server named by <c>DEFLAKE_MARIADB</c> rather than the throwaway one.</summary>
    public static bool IsOwnServer => !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(DeflakeEnvironment.MariaDb));

    public static Task<string> GetAdminConnectionStringAsync(CancellationToken cancellationToken = default)
        => AdminConnectionString.Value.WaitAsync(cancellationToken);

    public static async Task<MariaDbEngine> CreateEngineAsync(Action<MariaDbEngineOptions>? configure = null)
    {
        var options = new MariaDbEngineOptions { AdminConnectionString = await GetAdminConnectionStringAsync() };
        configure?.Invoke(options);
        return new MariaDbEngine(options);
    }

    public static async Task<TestDatabasePool> CreatePoolAsync(TestDatabaseOptions options, CancellationToken cancellationToken = default)
        => await TestDatabasePool.CreateAsync(await CreateEngineAsync(), options, cancellationToken);

    /// <summary>A pool whose engine restores returned clones in place (<see cref="MariaDbEngineOptions.RestoreClones"/>).</summary>
    public static async Task<TestDatabasePool> CreateRecyclingPoolAsync(TestDatabaseOptions options, CancellationToken cancellationToken = default)
        => await TestDatabasePool.CreateAsync(await CreateEngineAsync(o => o.RestoreClones = true), options, cancellationToken);

    /// <summary>Runs <paramref name="test"/> on a fresh clone of <paramref name="schema"/> under the given chaos and seed.</summary>
    public static async Task<T> WithDatabaseAsync<T>(SchemaSource schema, ChaosModes chaos, int seed, Func<System.Data.Common.DbConnection, Task<T>> test, CancellationToken cancellationToken = default)
    {
        await using var pool = await CreatePoolAsync(MariaDbEngineTests.Options(schema, chaos, seed), cancellationToken);
        await using var database = await pool.RentAsync(cancellationToken);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await test(connection);
    }

    public static async Task<MySqlConnection> OpenAdminAsync(CancellationToken cancellationToken = default)
    {
        var builder = new MySqlConnectionStringBuilder(await GetAdminConnectionStringAsync(cancellationToken)) { Pooling = false, AllowUserVariables = true };
        return await Connections.OpenAsync(builder.ConnectionString, cancellationToken);
    }

    public static async Task<HashSet<string>> DatabaseNamesAsync(string prefix = "", CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAdminAsync(cancellationToken);
        var rows = await Connections.RowsAsync(connection, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA", cancellationToken);
        return rows.Select(r => (string)r[0]!).Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
    }

    public static async Task ExecuteAsync(string sql, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAdminAsync(cancellationToken);
        await Connections.ExecuteAsync(connection, sql, cancellationToken);
    }

    public static async Task<object?> ScalarAsync(string sql, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAdminAsync(cancellationToken);
        return await Connections.ScalarAsync(connection, sql, cancellationToken);
    }

    private static async Task<string> StartAsync()
    {
        var configured = Environment.GetEnvironmentVariable(DeflakeEnvironment.MariaDb);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        var server = await MariaDbLocalServer.StartAsync();
        return server.ConnectionString;
    }
}
