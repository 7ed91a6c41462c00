using Npgsql;

namespace Deflake;

/// <summary>
/// Leases kept as PostgreSQL session advisory locks, for test processes on several machines that share one server.
/// </summary>
/// <example>
/// <code>
/// await using var leases = Leases.Postgres(Environment.GetEnvironmentVariable("DEFLAKE_POSTGRES")!);
/// await using var lease = await leases.AcquireAsync("accounts", ["alice", "bob", "carol"], TimeSpan.FromSeconds(30));
/// </code>
/// </example>
public static class PostgresLeases
{
    /// <summary>
    /// Leases on the PostgreSQL server of <paramref name="connectionString"/>: each lease holds
    /// <c>pg_try_advisory_lock</c> on a connection of its own (not Npgsql's pool, whose reset would drop the lock),
    /// so the server frees it when the holder disconnects or dies. Released connections are kept for reuse.
    /// </summary>
    /// <param name="connectionString">An Npgsql connection string; every process must name the same database.</param>
    /// <param name="options">Waiting and holder-note options.</param>
    /// <exception cref="DeflakeConfigurationException">The connection string or an option is wrong.</exception>
    public static Leases Create(string connectionString, LeaseOptions? options = null)
    {
        var validated = options ?? new LeaseOptions();
        return new Leases(new PostgresLeaseBackend(Parse(connectionString), validated), validated);
    }

    /// <summary>Adds <c>Leases.Postgres(...)</c> next to <see cref="Leases.Local"/>.</summary>
    extension(Leases)
    {
        /// <summary>Leases on a PostgreSQL server; see <see cref="Create"/>.</summary>
        /// <exception cref="DeflakeConfigurationException">The connection string or an option is wrong.</exception>
        public static Leases Postgres(string connectionString, LeaseOptions? options = null) => Create(connectionString, options);
    }

    private static NpgsqlConnectionStringBuilder Parse(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new DeflakeConfigurationException(nameof(connectionString), "is empty; pass the server's connection string, such as the value of DEFLAKE_POSTGRES.");
        }

        try
        {
            return new NpgsqlConnectionStringBuilder(connectionString)
            {
                Pooling = false,
                Enlist = false,
                Multiplexing = false,
            };
        }
        catch (ArgumentException ex)
        {
            // The connection string may hold a password: name the problem, never echo the text.
            throw new DeflakeConfigurationException(nameof(connectionString), $"is not a valid Npgsql connection string ({ex.Message.Split('\n')[0]}).", ex);
        }
    }
}
