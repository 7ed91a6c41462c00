using System.Data.Common;
using System.Globalization;
using System.Text;
using Deflake.Coordination;
using Deflake.MariaDb.Internal;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb;

/// <summary>
/// Clones on MariaDB/MySQL: made from the template's clone plan, recycled in place when a test gives one back
/// (<see cref="Recycling.MariaDbRecycling"/>: the app's idle pooled sessions kept when no session is busy), dropped, or kept
/// for a failed test.
/// </summary>
public sealed partial class MariaDbEngine
{
    /// <inheritdoc />
    public async Task<EngineDatabase> CreateCloneAsync(EngineTemplate source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var plan = await GetClonePlanAsync(source.Name, cancellationToken).ConfigureAwait(false);
        var counter = Interlocked.Increment(ref s_cloneCounter);
        var name = $"{Prefix}{source.Fingerprint[..Math.Min(8, source.Fingerprint.Length)]}_{ProcessIdentity.Token}_{counter.ToString("x", CultureInfo.InvariantCulture)}";
        var script = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"CREATE DATABASE {Quote.Identifier(name)};USE {Quote.Identifier(name)};")
            .Append("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', foreign_key_checks = 0, unique_checks = 0;");
        foreach (var statement in plan)
        {
            script.Append(statement).Append(";\n");
        }

        var connection = await OpenAdminAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await RecordAsync(connection, name, "clone", source.Fingerprint, cancellationToken).ConfigureAwait(false);
            try
            {
                // Once started, a clone is finished rather than cancelled; a finished one is simply dropped by the caller.
                await Connections.ExecuteAsync(connection, script.ToString(), CancellationToken.None).ConfigureAwait(false);
                await Connections.ExecuteAsync(connection, "SET SESSION sql_mode = DEFAULT, foreign_key_checks = DEFAULT, unique_checks = DEFAULT; USE `deflake_registry`", CancellationToken.None).ConfigureAwait(false);
            }
            catch
            {
                MySqlConnection.ClearPool(connection);
                await DropAndForgetAsync(name).ConfigureAwait(false);
                throw;
            }
        }

        // A recycled clone keeps the app's idle pooled connections: MySql.Data resets each when it is taken from the pool
        // (ConnectionReset), and reads the server's variables once per pool rather than once per new connection.
        var connectionString = new MySqlConnectionStringBuilder(AdminConnectionString)
        {
            Database = name,
            PersistSecurityInfo = false,
            ConnectionReset = KeepsIdleSessions,
            CacheServerProperties = _options.RestoreClones,
        }.ConnectionString;
        await WarmAsync(connectionString).ConfigureAwait(false);
        return new EngineDatabase(name, connectionString, _options.RestoreClones ? await SnapshotAsync(source.Name, name).ConfigureAwait(false) : null);
    }

    /// <summary>What a restore compares against: the new clone's schema (one round trip), or null when it cannot be read.</summary>
    private async Task<Recycling.MariaDbRecycling.CloneState?> SnapshotAsync(string template, string name)
    {
        try
        {
            var lazy = _recyclePlans.GetOrAdd(template, t => new Lazy<Task<Recycling.MariaDbRecycling.Plan>>(async () =>
            {
                var admin = await OpenAdminAsync(CancellationToken.None).ConfigureAwait(false);
                await using (admin.ConfigureAwait(false))
                {
                    return await Recycling.MariaDbRecycling.ReadPlanAsync(admin, t, CancellationToken.None).ConfigureAwait(false);
                }
            }));
            var plan = await lazy.Value.ConfigureAwait(false);
            var connection = await OpenAdminAsync(CancellationToken.None).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                return new(plan, await Recycling.MariaDbRecycling.ReadSnapshotAsync(connection, name, plan, CancellationToken.None).ConfigureAwait(false));
            }
        }
        catch (MySqlException ex)
        {
            _recyclePlans.TryRemove(template, out _);
            _logger.LogDebug(ex, "Deflake could not read the schema of {Name}; it will not be recycled", name);
            return null;
        }
    }

    /// <inheritdoc />
    /// <remarks>True unless <see cref="MariaDbEngineOptions.RestoreClones"/> is turned off.</remarks>
    public bool RestoresClones => _options.RestoreClones;

    /// <inheritdoc />
    /// <remarks>
    /// Keeps the app's idle pooled sessions on the clone when none is busy and the server shows its locks, else clears this
    /// process's pooled connections and kills every session still on it; refuses a changed schema, refills the tables whose
    /// checksum moved from the template and puts moved AUTO_INCREMENT counters back (see
    /// <see cref="Recycling.MariaDbRecycling"/>); after ending sessions it opens the first connection again, as for a new
    /// clone.
    /// </remarks>
    public async Task<RestoreResult> RestoreCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        EnsureOwnName(database.Name);
        if (database.State is not Recycling.MariaDbRecycling.CloneState state)
        {
            return RestoreResult.NotRestored("the clone's schema was not recorded when it was made");
        }

        bool keepSessions;
        var connection = await OpenAdminAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // Idle pooled sessions that hold nothing are kept (MySql.Data resets them for the next test, and a new
            // connection costs four times the rest of the restore); when any session is busy, or the server cannot show
            // who holds which lock, every session on the clone is ended.
            keepSessions = KeepsIdleSessions
                && await SeesLocksAsync(connection, cancellationToken).ConfigureAwait(false)
                && !await Recycling.MariaDbRecycling.HasBusySessionsAsync(connection, database.Name, cancellationToken).ConfigureAwait(false);
            if (!keepSessions)
            {
                Connections.ClearPool(database.ConnectionString);
                var killed = await Recycling.MariaDbRecycling.KillSessionsAsync(connection, database.Name, cancellationToken).ConfigureAwait(false);
                if (killed > 0)
                {
                    _logger.LogDebug("Deflake ended {Count} session(s) the test left open on {Name}", killed, database.Name);
                }
            }

            var reason = await Recycling.MariaDbRecycling.RestoreAsync(connection, database.Name, state, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            if (reason is not null)
            {
                return RestoreResult.NotRestored(reason);
            }
        }

        if (!keepSessions)
        {
            await WarmAsync(database.ConnectionString).ConfigureAwait(false);
        }

        return RestoreResult.Success;
    }

    /// <summary>Whether restores may keep the app's idle pooled sessions (then clones' connection strings carry <c>ConnectionReset=true</c>).</summary>
    private bool KeepsIdleSessions => _options.RestoreClones && _options.KeepIdleSessions;

    /// <summary>Whether the server shows who holds which lock (asked once per engine; see <see cref="Recycling.MariaDbRecycling.SeesLocksAsync"/>).</summary>
    private async Task<bool> SeesLocksAsync(MySqlConnection admin, CancellationToken cancellationToken)
    {
        var known = Volatile.Read(ref _seesLocks);
        if (known != 0)
        {
            return known == 1;
        }

        var sees = await Recycling.MariaDbRecycling.SeesLocksAsync(admin, cancellationToken).ConfigureAwait(false);
        if (Interlocked.CompareExchange(ref _seesLocks, sees ? 1 : 2, 0) == 0 && !sees)
        {
            _logger.LogInformation("The MariaDB server does not show who holds which lock (plugin metadata_lock_info is not loaded): every restore ends the clone's sessions and the next test opens a new connection; run INSTALL SONAME 'metadata_lock_info' on the server to make recycling faster");
        }

        return sees;
    }

    /// <summary>
    /// Opens the clone's first connection in the background and leaves it idle in the driver's pool: MySql.Data's first
    /// physical connection runs three queries of its own (variables, collations, time zone), which the test then skips.
    /// </summary>
    private static async Task WarmAsync(string connectionString)
    {
        var connection = await Connections.OpenAsync(connectionString, CancellationToken.None).ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task DropCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        EnsureOwnName(database.Name);
        Connections.ClearPool(database.ConnectionString);
        var connection = await OpenAdminAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var row = await ReadRowAsync(connection, database.Name, cancellationToken).ConfigureAwait(false);
            if (row is null || row.Owner != ProcessIdentity.Token)
            {
                throw new InvalidOperationException($"Database {database.Name} is not a clone of this process in Deflake's registry; Deflake will not drop it.");
            }

            await DropDatabaseAsync(connection, database.Name, cancellationToken).ConfigureAwait(false);
            await ForgetAsync(connection, database.Name, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task DropAndForgetAsync(string name)
    {
        try
        {
            var connection = await OpenAdminAsync(CancellationToken.None).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                await DropDatabaseAsync(connection, name, CancellationToken.None).ConfigureAwait(false);
                await ForgetAsync(connection, name, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (MySqlException ex)
        {
            _logger.LogWarning(ex, "Deflake could not drop the failed clone {Name}; orphan collection will", name);
        }
    }

    /// <inheritdoc />
    public async Task<string> KeepCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        EnsureOwnName(database.Name);
        Connections.ClearPool(database.ConnectionString);
        var connection = await OpenAdminAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await Connections.ExecuteAsync(connection, $"UPDATE {RegistryTable} SET kind = 'kept', owner = NULL, kept_at = @now WHERE name = @name AND owner = @me",
                cancellationToken, ("@now", _time.GetUtcNow().UtcDateTime), ("@name", database.Name), ("@me", ProcessIdentity.Token)).ConfigureAwait(false);
        }

        return Describe(database.ConnectionString);
    }

    /// <summary>How to reach a database with the mariadb client, without the password.</summary>
    internal static string Describe(string connectionString)
    {
        var builder = new MySqlConnectionStringBuilder(connectionString);
        var where = builder.ConnectionProtocol == MySqlConnectionProtocol.Unix
            ? $"--socket={builder.Server}"
            : $"--host={builder.Server} --port={builder.Port.ToString(CultureInfo.InvariantCulture)}";
        return $"mariadb {where} --user={builder.UserID} -p {builder.Database}";
    }

    /// <inheritdoc />
    public DbConnection CreateConnection(EngineDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        return Connections.Create(database.ConnectionString);
    }
}
