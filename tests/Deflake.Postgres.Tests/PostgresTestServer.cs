using Npgsql;

namespace Deflake.Postgres.Tests;

/// <summary>
/// The one PostgreSQL server every test in this process uses: <c>DEFLAKE_POSTGRES</c> when set, otherwise the
/// throwaway local server, started (or attached to) once per test process.
/// </summary>
public static class PostgresTestServer
{
    private static readonly Lazy<Task<string>> AdminConnectionString = new(StartAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Admin connection string of the test server (starts the throwaway server on first use).</summary>
    public static Task<string> GetAdminConnectionStringAsync(CancellationToken cancellationToken = default)
        => AdminConnectionString.Value.WaitAsync(cancellationToken);

    /// <summary>This process started (or attached to) the throwaway local server: no <c>DEFLAKE_POSTGRES</c>, and a test used it.</summary>
    public static bool UsedTheLocalServer => string.IsNullOrEmpty(Environment.GetEnvironmentVariable(DeflakeEnvironment.Postgres))
        && AdminConnectionString.IsValueCreated && AdminConnectionString.Value.IsCompletedSuccessfully;

    /// <summary>A new engine on the test server.</summary>
    public static async Task<PostgresEngine> CreateEngineAsync(Action<PostgresEngineOptions>? configure = null)
    {
        var options = new PostgresEngineOptions { AdminConnectionString = await GetAdminConnectionStringAsync() };
        configure?.Invoke(options);
        return new PostgresEngine(options);
    }

    /// <summary>A pool on the test server; its template is dropped when the test run ends (see <see cref="TestTemplateCleanup"/>).</summary>
    public static async Task<TestDatabasePool> CreatePoolAsync(TestDatabaseOptions options, CancellationToken cancellationToken = default)
    {
        var pool = await TestDatabasePool.CreateAsync(await CreateEngineAsync(), options, cancellationToken);
        TestTemplateCleanup.Track(pool.Template.Name);
        return pool;
    }

    /// <summary>An open admin connection to the test server's maintenance database.</summary>
    public static async Task<NpgsqlConnection> OpenAdminAsync(CancellationToken cancellationToken = default)
    {
        var builder = new NpgsqlConnectionStringBuilder(await GetAdminConnectionStringAsync(cancellationToken)) { Pooling = false };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    /// <summary>Names of every database on the server that starts with <paramref name="prefix"/>.</summary>
    public static async Task<HashSet<string>> DatabaseNamesAsync(string prefix = "", CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAdminAsync(cancellationToken);
        await using var command = new NpgsqlCommand("select datname from pg_database where starts_with(datname, @prefix)", connection);
        command.Parameters.AddWithValue("prefix", prefix);
        var names = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private static async Task<string> StartAsync()
    {
        var configured = Environment.GetEnvironmentVariable(DeflakeEnvironment.Postgres);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        var server = await PostgresLocalServer.StartAsync();
        return server.ConnectionString;
    }
}
