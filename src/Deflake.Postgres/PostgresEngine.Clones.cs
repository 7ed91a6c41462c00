using System.Data.Common;
using System.Globalization;
using Deflake.Coordination;
using Deflake.Postgres.Internal;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Deflake.Postgres;

/// <summary>
/// Clones on PostgreSQL: <c>CREATE DATABASE … TEMPLATE</c>, warmed before they are handed out (the first connection's
/// type loading paid in the background), restored in place when a test gives one back (<see cref="Recycling.PostgresRecycling"/>),
/// dropped, or kept for a failed test.
/// </summary>
public sealed partial class PostgresEngine
{
    /// <inheritdoc />
    public async Task<EngineDatabase> CreateCloneAsync(EngineTemplate source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var counter = Interlocked.Increment(ref s_cloneCounter);
        var name = $"{Prefix}{source.Fingerprint[..Math.Min(8, source.Fingerprint.Length)]}_{ProcessIdentity.Token}_{counter.ToString("x", CultureInfo.InvariantCulture)}";
        var strategy = _serverVersionNumber >= 150000
            ? _options.CloneStrategy == PostgresCloneStrategy.WalLog ? " strategy wal_log" : " strategy file_copy"
            : "";
        var sql = $"create database {Quote.Identifier(name)} template {Quote.Identifier(source.Name)}{strategy}";

        await RecordIntentAsync(name, cancellationToken).ConfigureAwait(false);
        var connection = await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // Once started, a clone is finished rather than cancelled: a cancelled CREATE DATABASE can leave its backend
            // slow to absorb the next DROP DATABASE's barrier (seconds), and a finished one is simply dropped by the caller.
            await RetryWhileInUseAsync(() => ExecuteAsync(connection, sql, CancellationToken.None), cancellationToken).ConfigureAwait(false);
            try
            {
                await SetMarkerAsync(connection, name, NewMarker("clone", source.Fingerprint), CancellationToken.None).ConfigureAwait(false);
                var builder = new NpgsqlConnectionStringBuilder(Admin.ConnectionString) { Database = name };
                var connectionString = await ConfigureCloneAsync(connection, name, builder, CancellationToken.None).ConfigureAwait(false);
                var state = await WarmAsync(connectionString).ConfigureAwait(false);
                return new EngineDatabase(name, connectionString, state);
            }
            catch
            {
                await DropDatabaseAsync(connection, name, isTemplate: false, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>
    /// Opens the clone's first connection in the background, with the connection string the test gets, and leaves it
    /// idle in the driver's pool. A new database's first session is the slow one (the server builds its catalog cache
    /// and writes the cache file; Npgsql loads the types), measured at about two thirds of the per-test cost on a busy
    /// 2-core machine; afterwards the test's <c>OpenConnectionAsync</c> takes the ready session. Dropping or keeping the
    /// clone clears that pool.
    /// </summary>
    private static async Task<CloneState> WarmAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(CancellationToken.None).ConfigureAwait(false);
        }

        // Deflake's restore session, opened now too, reads the settings a restore must find again.
        var state = new CloneState { Restore = CreateRestoreDataSource(connectionString) };
        try
        {
            var restore = await state.Restore.OpenConnectionAsync(CancellationToken.None).ConfigureAwait(false);
            await using (restore.ConfigureAwait(false))
            {
                (state.Settings, state.Database) = await Recycling.PostgresRecycling.ReadCloneAsync(restore, CancellationToken.None).ConfigureAwait(false);
            }

            return state;
        }
        catch
        {
            await state.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// What the engine keeps of a clone it made: the data source of Deflake's restore session (a pool of its own, so the
    /// app's pool is never touched, without type loading, since the restore reads only built-in types), and the database
    /// settings the clone had when it was first handed out, which a restore must find again.
    /// </summary>
    private sealed class CloneState : IAsyncDisposable
    {
        public NpgsqlDataSource? Restore { get; init; }

        public string[]? Settings { get; set; }

        /// <summary>The clone's oid, which its restores pass in.</summary>
        public uint Database { get; set; }

        /// <summary>Tables restores deleted rows from since the clone was last vacuumed (restores of one clone never overlap).</summary>
        public HashSet<string> Touched { get; } = new(StringComparer.Ordinal);

        /// <summary>About how many dead rows restores left in <see cref="Touched"/> since the last vacuum.</summary>
        public long DeadRows { get; set; }

        public ValueTask DisposeAsync() => Restore?.DisposeAsync() ?? ValueTask.CompletedTask;
    }

    /// <summary>
    /// How many dead rows restores of a clone may leave (the rows tests inserted, and Deflake's own records) before the
    /// tables they are in are vacuumed: a few pages' worth, so scans stay short, and a vacuum (about a millisecond for a
    /// few small tables) about every hundred 3-row tests, or after each test that wrote a thousand rows.
    /// </summary>
    private const long VacuumAfterDeadRows = 1000;

    private static NpgsqlDataSource CreateRestoreDataSource(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(connectionString)
        {
            ApplicationName = Recycling.PostgresRecycling.ApplicationName,
            MaxPoolSize = 2,
            Enlist = false,
            // The restore session keeps no state between restores (its settings are transaction-local), and DISCARD ALL on
            // every return would throw away the restore function's cached plans.
            NoResetOnClose = true,
            // The restore call is the same statement every time: prepared once per session, it skips parsing and planning
            // (measured with pgbench on a clone: 0.13–0.19 ms a restore of a clean clone unprepared, 0.09–0.15 prepared).
            MaxAutoPrepare = 4,
            AutoPrepareMinUsages = 2,
            // The restore's settings, for the whole session (restore() still sets them per transaction, to the same values), and
            // the mark that keeps the clone's triggers from recording the restore's own writes.
            Options = "-c synchronize_seqscans=off -c max_parallel_workers_per_gather=0 -c lock_timeout=5s " + Recycling.PostgresRecycling.RestoringOption,
        }.ConnectionString);
        builder.ConfigureTypeLoading(types => types.EnableTypeLoading(false));
        // session_replication_role too, for the whole session: changing it throws away every cached plan of the session
        // (measured: a restore after a 3-row test took 0.85 ms more when restore() switched it per call, 0.13 ms with it set
        // here). Only a superuser may set it — and only a superuser's clones are recycled; others connect unchanged.
        builder.UsePhysicalConnectionInitializer(
            connection => InitializeRestoreSession(connection).GetAwaiter().GetResult(),
            InitializeRestoreSession);
        return builder.Build();
    }

    private static async Task InitializeRestoreSession(NpgsqlConnection connection)
    {
        var command = new NpgsqlCommand(
            "select set_config('session_replication_role', 'replica', false) from pg_roles where rolname = current_user and rolsuper", connection);
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public bool RestoresClones => true;

    /// <inheritdoc />
    public async Task<RestoreResult> RestoreCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        EnsureOwnName(database.Name);
        if (database.State is not CloneState state)
        {
            return RestoreResult.NotRestored("the clone was not made by this engine");
        }

        if (state.Restore is null || state.Settings is null)
        {
            return RestoreResult.NotRestored("the clone's restore session was never set up");
        }

        var connection = await state.Restore.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var (reason, ended, touched, dead) = await Recycling.PostgresRecycling.RestoreAsync(connection, state.Settings, state.Database, cancellationToken).ConfigureAwait(false);
            if (ended > 0)
            {
                // Sessions of the test were ended: none of this process's pooled connections to the clone may be reused.
                _logger.LogDebug("Deflake ended {Count} session(s) the test left open on {Name}", ended, database.Name);
                ClearPool(database.ConnectionString);
            }

            if (reason is null)
            {
                state.Touched.UnionWith(touched);
                state.DeadRows += dead;
                if (state.DeadRows >= VacuumAfterDeadRows)
                {
                    // Outside the restore's transaction (VACUUM cannot run in one), before the clone is handed out again.
                    await Recycling.PostgresRecycling.VacuumAsync(connection, state.Touched, cancellationToken).ConfigureAwait(false);
                    state.Touched.Clear();
                    state.DeadRows = 0;
                }

                return RestoreResult.Success;
            }

            if (reason.StartsWith("a prepared transaction", StringComparison.Ordinal))
            {
                await Recycling.PostgresRecycling.RollBackPreparedAsync(connection, cancellationToken).ConfigureAwait(false);
            }

            return RestoreResult.NotRestored(reason);
        }
    }

    /// <summary>
    /// Hook point: per-clone setup right after <c>CREATE DATABASE</c> (row-order chaos will add views here and point
    /// the clone's <c>search_path</c> at them). Returns the clone's connection string.
    /// </summary>
    private async Task<string> ConfigureCloneAsync(NpgsqlConnection admin, string clone, NpgsqlConnectionStringBuilder connection, CancellationToken cancellationToken)
    {
        if (_chaosContext is { } context)
        {
            await Chaos.PostgresCloneChaos.ConfigureAsync(admin, clone, context.Chaos, context.Seed, cancellationToken).ConfigureAwait(false);
        }

        return connection.ConnectionString;
    }

    /// <inheritdoc />
    public async Task DropCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        EnsureOwnName(database.Name);
        await ClearPoolsAsync(database).ConfigureAwait(false);
        var connection = await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await DropDatabaseAsync(connection, database.Name, isTemplate: false, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<string> KeepCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        EnsureOwnName(database.Name);
        await ClearPoolsAsync(database).ConfigureAwait(false);
        var connection = await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var found = await ReadDatabaseAsync(connection, database.Name, cancellationToken).ConfigureAwait(false);
            var marker = found?.Marker ?? throw new InvalidOperationException($"Database {database.Name} has no Deflake marker; it will not be kept.");
            await SetMarkerAsync(connection, database.Name, marker with { Owner = null, Kept = true, KeptAt = _time.GetUtcNow() }, cancellationToken).ConfigureAwait(false);
        }

        return Describe(database.ConnectionString);
    }

    /// <summary>How to reach a database with psql, without the password.</summary>
    internal static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var parts = new List<string> { $"host={builder.Host}", $"port={builder.Port.ToString(CultureInfo.InvariantCulture)}" };
        if (!string.IsNullOrEmpty(builder.Username))
        {
            parts.Add($"user={builder.Username}");
        }

        parts.Add($"dbname={builder.Database}");
        return $"psql \"{string.Join(' ', parts)}\"";
    }

    /// <inheritdoc />
    public DbConnection CreateConnection(EngineDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        return new NpgsqlConnection(database.ConnectionString);
    }
}
