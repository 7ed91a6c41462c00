using Npgsql;

namespace Deflake.Postgres;

/// <summary>The PostgreSQL servers <c>deflake gc</c> collects on, found without starting one.</summary>
public static class PostgresOrphanServers
{
    /// <summary>
    /// The server <c>DEFLAKE_POSTGRES</c> names, when set, and the throwaway local server, when it is running (it is
    /// never started just to collect). Each comes with the engine that collects on it, or why it cannot be reached.
    /// </summary>
    /// <param name="local">Where the throwaway server lives; null: the defaults (<c>DEFLAKE_RUNTIME_DIR</c>).</param>
    /// <param name="cancellationToken">Stops looking.</param>
    public static async Task<IReadOnlyList<OrphanServer>> FindAsync(PostgresLocalServerOptions? local = null, CancellationToken cancellationToken = default)
    {
        var servers = new List<OrphanServer>();
        var configured = Environment.GetEnvironmentVariable(DeflakeEnvironment.Postgres);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            string where;
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(configured);
                where = $"{DeflakeEnvironment.Postgres} (host {builder.Host}, port {builder.Port})";
            }
            catch (ArgumentException)
            {
                where = DeflakeEnvironment.Postgres;
            }

            servers.Add(new OrphanServer("postgres", where,
                () => new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = configured }), null));
        }

        PostgresLocalServer? server;
        try
        {
            server = await PostgresLocalServer.AttachIfRunningAsync(local, cancellationToken).ConfigureAwait(false);
        }
        catch (DeflakeConfigurationException ex)
        {
            servers.Add(new OrphanServer("postgres", "the throwaway server", null, ex.Message));
            return servers;
        }

        servers.Add(server is null
            ? new OrphanServer("postgres", "the throwaway server", null, "not running (gc never starts one)")
            : new OrphanServer("postgres", $"the throwaway server in {server.ServerDirectory}",
                () => new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = server.ConnectionString }), null));
        return servers;
    }
}
