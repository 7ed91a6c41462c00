using MySql.Data.MySqlClient;

namespace Deflake.MariaDb;

/// <summary>The MariaDB servers <c>deflake gc</c> collects on, found without starting one.</summary>
public static class MariaDbOrphanServers
{
    /// <summary>
    /// The server <c>DEFLAKE_MARIADB</c> names, when set, and the throwaway local server, when it is running (it is
    /// never started just to collect). Each comes with the engine that collects on it, or why it cannot be reached.
    /// </summary>
    /// <param name="local">Where the throwaway server lives; null: the defaults (<c>DEFLAKE_RUNTIME_DIR</c>).</param>
    /// <param name="cancellationToken">Stops looking.</param>
    public static async Task<IReadOnlyList<OrphanServer>> FindAsync(MariaDbLocalServerOptions? local = null, CancellationToken cancellationToken = default)
    {
        var servers = new List<OrphanServer>();
        var configured = Environment.GetEnvironmentVariable(DeflakeEnvironment.MariaDb);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            string where;
            try
            {
                var builder = new MySqlConnectionStringBuilder(configured);
                where = $"{DeflakeEnvironment.MariaDb} (server {builder.Server}, port {builder.Port})";
            }
            catch (ArgumentException)
            {
                where = DeflakeEnvironment.MariaDb;
            }

            servers.Add(new OrphanServer("mariadb", where,
                () => new MariaDbEngine(new MariaDbEngineOptions { AdminConnectionString = configured }), null));
        }

        MariaDbLocalServer? server;
        try
        {
            server = await MariaDbLocalServer.AttachIfRunningAsync(local, cancellationToken).ConfigureAwait(false);
        }
        catch (DeflakeConfigurationException ex)
        {
            servers.Add(new OrphanServer("mariadb", "the throwaway server", null, ex.Message));
            return servers;
        }

        servers.Add(server is null
            ? new OrphanServer("mariadb", "the throwaway server", null, "not running (gc never starts one)")
            : new OrphanServer("mariadb", $"the throwaway server in {server.ServerDirectory}",
                () => new MariaDbEngine(new MariaDbEngineOptions { AdminConnectionString = server.ConnectionString }), null));
        return servers;
    }
}
