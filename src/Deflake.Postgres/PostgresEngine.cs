using System.Data.Common;
using System.Globalization;
using System.Net.Sockets;
using Deflake.Coordination;
using Deflake.Postgres.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Deflake.Postgres;

/// <summary>
/// PostgreSQL engine: one template database per schema fingerprint (built once across processes and machines that
/// share a server, under an advisory lock), and a <c>CREATE DATABASE … TEMPLATE</c> clone per test.
/// Uses <c>DEFLAKE_POSTGRES</c> when set, otherwise a throwaway local server (<see cref="PostgresLocalServer"/>).
/// </summary>
/// <remarks>
/// Every database it creates is named <c>deflake_…</c> and carries a JSON marker in its comment naming the owning
/// process. The engine holds a shared advisory lock on its process's key for its lifetime, so orphan collection can
/// tell a crashed owner (the lock is free) from a live one, on any machine. Databases without the marker are never touched.
/// It also holds, on the same session, a shared advisory lock on the "use" key of the template it clones, so a
/// template superseded by a newer one of its lineage is dropped only once no live pool (in any process) uses it.
/// </remarks>
/// <example>
/// <code>
/// await using var pool = await TestDatabasePool.CreateAsync(new PostgresEngine(),
///     new TestDatabaseOptions { Schema = SchemaSource.FromSqlDirectory("migrations") });
/// </code>
/// </example>
public sealed partial class PostgresEngine : IDatabaseEngine
{
    internal const string Prefix = "deflake_";
    internal const string TemplatePrefix = "deflake_tpl_";
    internal const string BuildPrefix = "deflake_bld_";

    /// <summary>
    /// Deflake's own bookkeeping database: the name of every database is recorded here (with its owner) before it
    /// is created, so one whose owner died between <c>CREATE DATABASE</c> and <c>COMMENT ON DATABASE</c> is still
    /// provably Deflake's. Never dropped by Deflake.
    /// </summary>
    internal const string RegistryDatabase = "deflake_registry";
    private const string ObjectInUse = "55006";
    private const string LockNotAvailable = "55P03";
    private static long s_cloneCounter;

    private readonly ResolvedPostgresOptions _options;
    private NpgsqlConnectionStringBuilder? _admin;
    private NpgsqlDataSource? _dataSource;
    private NpgsqlDataSource? _registry;
    private NpgsqlConnection? _ownerConnection;
    private readonly SemaphoreSlim _ownerGate = new(1, 1);
    private PostgresLocalServer? _localServer;
    private ILogger _logger = NullLogger.Instance;
    private TimeProvider _time = TimeProvider.System;
    private EngineContext? _chaosContext;
    private int _serverVersionNumber;
    private int _disposed;

    /// <summary>Creates the engine; nothing connects until the pool starts it.</summary>
    /// <exception cref="DeflakeConfigurationException">An option or <c>DEFLAKE_POSTGRES</c> is invalid.</exception>
    public PostgresEngine(PostgresEngineOptions? options = null)
    {
        _options = (options ?? new PostgresEngineOptions()).Resolve();
    }

    /// <inheritdoc />
    public string Kind => "postgres";

    /// <inheritdoc />
    public DbProviderFactory ProviderFactory => NpgsqlFactory.Instance;

    /// <summary>The server's <c>server_version_num</c> (for example 150010), once started.</summary>
    public int ServerVersionNumber => _serverVersionNumber;

    /// <summary>The throwaway server in use, or null when a connection string was given.</summary>
    public PostgresLocalServer? LocalServer => _localServer;

    private NpgsqlDataSource Registry => _registry ?? throw new InvalidOperationException("The PostgreSQL engine has not been started.");

    private NpgsqlDataSource DataSource => _dataSource ?? throw new InvalidOperationException("The PostgreSQL engine has not been started.");

    private NpgsqlConnectionStringBuilder Admin => _admin ?? throw new InvalidOperationException("The PostgreSQL engine has not been started.");

    /// <inheritdoc />
    public async Task<string> StartAsync(EngineContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _logger = context.Logger;
        _time = context.TimeProvider;
        _chaosContext = context;

        NpgsqlConnectionStringBuilder admin;
        if (_options.Admin is null)
        {
            _localServer = await PostgresLocalServer.StartAsync(_options.LocalServer, cancellationToken).ConfigureAwait(false);
            admin = new NpgsqlConnectionStringBuilder(_localServer.ConnectionString);
            _logger.LogInformation("Deflake uses the throwaway PostgreSQL {Major} server in {Directory} ({State}), data in {DataDirectory} ({Why})",
                _localServer.MajorVersion, _localServer.ServerDirectory, _localServer.WasStarted ? "started" : "attached",
                _localServer.DataDirectory, _localServer.DataDirectoryReason);
        }
        else
        {
            admin = new NpgsqlConnectionStringBuilder(_options.Admin.ConnectionString);
        }

        if (string.IsNullOrEmpty(admin.Database))
        {
            admin.Database = "postgres";
        }

        _admin = admin;
        _ownerConnection = await OpenOwnerAsync(admin, cancellationToken).ConfigureAwait(false);
        _serverVersionNumber = await ScalarAsync<int>(_ownerConnection, "select current_setting('server_version_num')::int", null, cancellationToken).ConfigureAwait(false);

        // Shared: several engines of one process hold it together; orphan collection's exclusive try fails while any holds it.
        await ScalarAsync<object>(_ownerConnection, "select pg_advisory_lock_shared(@key)", ProcessIdentity.LockKey, cancellationToken).ConfigureAwait(false);

        var pooled = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(admin.ConnectionString) { ApplicationName = "deflake admin" }.ConnectionString);
        if (_serverVersionNumber >= 140000)
        {
            // If this process dies during a long CREATE DATABASE, the server notices and aborts it (removing the half-made
            // database) instead of finishing a clone nobody will mark; the registry covers the ones that finish anyway.
            const string CheckClient = "set client_connection_check_interval = 100";
            pooled.UsePhysicalConnectionInitializer(
                connection => { using var command = new NpgsqlCommand(CheckClient, connection); command.ExecuteNonQuery(); },
                async connection =>
                {
                    var command = new NpgsqlCommand(CheckClient, connection);
                    await using (command.ConfigureAwait(false))
                    {
                        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
                    }
                });
        }

        _dataSource = pooled.Build();
        _registry = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(admin.ConnectionString) { Database = RegistryDatabase, ApplicationName = "deflake registry" });
        await EnsureRegistryAsync(_ownerConnection, cancellationToken).ConfigureAwait(false);
        return _serverVersionNumber.ToString(CultureInfo.InvariantCulture);
    }

    private async Task EnsureRegistryAsync(NpgsqlConnection owner, CancellationToken cancellationToken)
    {
        // CREATE DATABASE / CREATE TABLE IF NOT EXISTS race when run concurrently: serialise on an advisory lock.
        var key = ProcessIdentity.StableKey("deflake:registry");
        await ScalarAsync<object>(owner, "select pg_advisory_lock(@key)", key, cancellationToken).ConfigureAwait(false);
        try
        {
            var found = await ReadDatabaseAsync(owner, RegistryDatabase, cancellationToken).ConfigureAwait(false);
            if (found is null)
            {
                await ExecuteAsync(owner, $"create database {Quote.Identifier(RegistryDatabase)} template template0", cancellationToken).ConfigureAwait(false);
                await SetMarkerAsync(owner, RegistryDatabase, new DatabaseMarker { Kind = "registry", Created = _time.GetUtcNow() }, cancellationToken).ConfigureAwait(false);
            }
            else if (found.Value.Marker is not { Kind: "registry" })
            {
                throw new InvalidOperationException(
                    $"Database {RegistryDatabase} exists but is not Deflake's (no marker); Deflake will not touch it. Rename it, or use another server.");
            }

            var connection = await Registry.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                // Every role that uses Deflake on this server records its in-flight clones here, whoever made the registry:
                // PostgreSQL 15 lets no other role create in (or write to) its public schema, so the maker (or a superuser)
                // grants the table to all. A row only names a clone with Deflake's prefix and its owner's token, unmarked;
                // orphan collection drops nothing else.
                await ExecuteAsync(connection, """
                    do $$
                    begin
                        if to_regclass('public.pending') is null then
                            create table public.pending (name text primary key, owner text not null, created timestamptz not null default now());
                        end if;
                        if pg_has_role(current_user, (select c.relowner from pg_class c where c.oid = 'public.pending'::regclass), 'USAGE') then
                            grant select, insert, update, delete on public.pending to public;
                        end if;
                    end $$
                    """, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await ScalarAsync<object>(owner, "select pg_advisory_unlock(@key)", key, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Records that this process is about to create <paramref name="database"/> (see <see cref="RegistryDatabase"/>).</summary>
    private async Task RecordIntentAsync(string database, CancellationToken cancellationToken)
    {
        var connection = await Registry.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand("insert into pending (name, owner) values (@name, @owner) on conflict (name) do update set owner = excluded.owner", connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.AddWithValue("name", database);
                command.Parameters.AddWithValue("owner", ProcessIdentity.Token);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<NpgsqlConnection> OpenOwnerAsync(NpgsqlConnectionStringBuilder admin, CancellationToken cancellationToken)
    {
        try
        {
            return await OpenDedicatedAsync(admin.Database!, "deflake owner", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or SocketException or TimeoutException or IOException
                                   && !cancellationToken.IsCancellationRequested)
        {
            var where = $"{admin.Host}{(admin.Host?.StartsWith('/') == true ? "" : ":" + admin.Port.ToString(CultureInfo.InvariantCulture))}";
            var reason = ex is PostgresException pg ? $"{pg.SqlState} {pg.MessageText}" : PostgresEngineOptions.FirstLine(ex.InnerException?.Message ?? ex.Message);
            throw new DeflakeConfigurationException(_options.Setting,
                $"cannot connect to PostgreSQL at {where} as '{admin.Username}' to database '{admin.Database}' ({reason}); start the server or fix the connection string"
                + (_options.Admin is null ? "." : ", or unset it to use a throwaway local server."), ex);
        }
    }

    /// <inheritdoc />
    public async Task<EngineTemplate> EnsureTemplateAsync(TemplateRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Fingerprint.Length is 0 or > 40 || !request.Fingerprint.All(char.IsAsciiHexDigitLower))
        {
            throw new ArgumentException($"Fingerprint '{request.Fingerprint}' is not 1-40 lower-case hex digits.", nameof(request));
        }

        var name = TemplatePrefix + request.Fingerprint;

        // A dedicated, non-pooled session: a pooled connection's reset (DISCARD ALL) would drop the lock mid-build.
        var gate = await OpenDedicatedAsync(Admin.Database!, "deflake template lock", cancellationToken).ConfigureAwait(false);
        await using (gate.ConfigureAwait(false))
        {
            await ExecuteAsync(gate, $"set lock_timeout = {(long)_options.TemplateWaitTimeout.TotalMilliseconds}", cancellationToken).ConfigureAwait(false);
            try
            {
                await ScalarAsync<object>(gate, "select pg_advisory_lock(@key)", TemplateLockKey(request.Fingerprint), cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState == LockNotAvailable)
            {
                throw new TimeoutException(
                    $"Deflake waited {_options.TemplateWaitTimeout.TotalMinutes:0.#} min for another process building template {name} (PostgresEngineOptions.TemplateWaitTimeout).", ex);
            }

            // Re-check under the lock: whoever held it may just have built the template.
            var existing = await ReadDatabaseAsync(gate, name, cancellationToken).ConfigureAwait(false);
            if (existing is { } found)
            {
                if (!found.IsTemplate || found.Marker is not { Kind: "template" } marker)
                {
                    throw new InvalidOperationException(
                        $"Database {name} exists but is not a Deflake template (no marker or not a template); Deflake will not touch it. Drop or rename it yourself.");
                }

                // Under the build lock, so superseded-template collection (which takes it) sees this use.
                await HoldUseLockAsync(request.Fingerprint, cancellationToken).ConfigureAwait(false);

                // "Most recently used" decides which superseded templates stay, so keep it fresh (a comment is cheap).
                var now = _time.GetUtcNow();
                if (now - (marker.LastUsed ?? marker.Created) > TimeSpan.FromMinutes(1))
                {
                    await SetMarkerAsync(gate, name, marker with { LastUsed = now }, cancellationToken).ConfigureAwait(false);
                }

                // Recorded by the build: the template itself takes no connections.
                return new EngineTemplate(name, request.Fingerprint, WasBuilt: false) { IdentitiesNotCovered = marker.NotCovered ?? [] };
            }

            var notCovered = await BuildTemplateAsync(gate, name, request, cancellationToken).ConfigureAwait(false);
            await HoldUseLockAsync(request.Fingerprint, cancellationToken).ConfigureAwait(false);
            return new EngineTemplate(name, request.Fingerprint, WasBuilt: true) { IdentitiesNotCovered = notCovered };
        }
    }

    /// <summary>
    /// Marks the template as used by this engine until it is disposed: a shared advisory lock on the template's use key
    /// (not its build key), on the owner session. Every live engine using it holds one; a process that dies releases
    /// its locks with its sessions, so a crash never pins a template.
    /// </summary>
    private async Task HoldUseLockAsync(string fingerprint, CancellationToken cancellationToken)
    {
        var owner = _ownerConnection ?? throw new InvalidOperationException("The PostgreSQL engine has not been started.");
        await _ownerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ScalarAsync<object>(owner, "select pg_advisory_lock_shared(@key)", TemplateUseKey(fingerprint), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _ownerGate.Release();
        }
    }

    private async Task<IReadOnlyList<NotCoveredKey>> BuildTemplateAsync(NpgsqlConnection admin, string name, TemplateRequest request, CancellationToken cancellationToken)
    {
        IReadOnlyList<NotCoveredKey> notCovered;
        var build = $"{BuildPrefix}{request.Fingerprint}_{ProcessIdentity.Token}";
        var started = _time.GetTimestamp();
        var marker = NewMarker("build", request.Fingerprint);
        var leftover = await ReadDatabaseAsync(admin, build, cancellationToken).ConfigureAwait(false);
        if (leftover is { Marker.Owner: var leftoverOwner } && leftoverOwner == ProcessIdentity.Token)
        {
            await DropDatabaseAsync(admin, build, leftover.Value.IsTemplate, cancellationToken).ConfigureAwait(false);
        }

        await RecordIntentAsync(build, cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(admin, $"create database {Quote.Identifier(build)} template template0", cancellationToken).ConfigureAwait(false);
        try
        {
            await SetMarkerAsync(admin, build, marker, cancellationToken).ConfigureAwait(false);
            var connection = await OpenDedicatedAsync(build, "deflake template build", cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                try
                {
                    await request.Schema.ApplyAsync(connection, cancellationToken).ConfigureAwait(false);
                }
                catch (TemplateBuildException ex) when (ex.Line is null)
                {
                    throw Internal.MigrationErrors.Locate(ex);
                }

                notCovered = await ApplyTemplateChaosAsync(connection, request, cancellationToken).ConfigureAwait(false);
                await Recycling.PostgresRecycling.InstallAsync(connection, request.Chaos.HasFlag(ChaosModes.Rows), _logger, cancellationToken).ConfigureAwait(false);
            }

            // Seal, then publish by renaming: a template name only ever refers to a finished template.
            await ExecuteAsync(admin, $"alter database {Quote.Identifier(build)} with is_template true allow_connections false", cancellationToken).ConfigureAwait(false);
            await SetMarkerAsync(admin, build, marker with { Kind = "template" }, cancellationToken).ConfigureAwait(false);
            await RetryWhileInUseAsync(() => ExecuteAsync(admin, $"alter database {Quote.Identifier(build)} rename to {Quote.Identifier(name)}", cancellationToken),
                cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            try
            {
                await DropDatabaseAsync(admin, build, isTemplate: true, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception dropError) when (dropError is NpgsqlException or IOException)
            {
                _logger.LogWarning(dropError, "Deflake could not drop the failed template build {Name}; orphan collection will", build);
            }

            throw;
        }

        var now = _time.GetUtcNow();
        await SetMarkerAsync(admin, name, marker with
        {
            Kind = "template", Owner = null, ProcessId = null, LastUsed = now, Lineage = request.Lineage, NotCovered = notCovered.Count > 0 ? notCovered : null,
        }, cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("Deflake built PostgreSQL template {Name} from {Schema} in {Elapsed:0} ms",
            name, request.Schema.Name, _time.GetElapsedTime(started).TotalMilliseconds);
        return notCovered;
    }

    /// <summary>
    /// Hook point: chaos that lives in the template (identity ranges) is applied here, on the build connection,
    /// after the schema and before the template is sealed (see <c>Chaos/PostgresChaos.cs</c>).
    /// </summary>
    private Task<IReadOnlyList<NotCoveredKey>> ApplyTemplateChaosAsync(NpgsqlConnection connection, TemplateRequest request, CancellationToken cancellationToken)
        => Chaos.PostgresTemplateChaos.ApplyAsync(connection, request, _logger, cancellationToken);

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
                state.Settings = await Recycling.PostgresRecycling.ReadSettingsAsync(restore, CancellationToken.None).ConfigureAwait(false);
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
            // The restore's settings, for the whole session (restore() still sets them per transaction, to the same values).
            Options = "-c synchronize_seqscans=off -c max_parallel_workers_per_gather=0 -c lock_timeout=5s",
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
            var (reason, ended, touched, dead) = await Recycling.PostgresRecycling.RestoreAsync(connection, state.Settings, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Stops being an owner (releases the owner lock) and closes the engine's connections. Does not drop anything.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }

        if (_registry is not null)
        {
            await ForgetOwnIntentsAsync().ConfigureAwait(false);
            await _registry.DisposeAsync().ConfigureAwait(false);
        }

        if (_ownerConnection is not null)
        {
            // Closing the session releases the owner lock and every template use lock with it.
            await _ownerGate.WaitAsync().ConfigureAwait(false);
            try
            {
                await _ownerConnection.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                _ownerGate.Release();
            }
        }

        if (_localServer is not null)
        {
            await _localServer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task ForgetOwnIntentsAsync()
    {
        try
        {
            var connection = await Registry.OpenConnectionAsync().ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                // Only rows of databases that exist with a marker or not at all: an unmarked one stays provably ours.
                var command = new NpgsqlCommand(
                    "delete from pending where owner = @me and not exists (select from pg_database d where d.datname = pending.name and shobj_description(d.oid, 'pg_database') is null)",
                    connection);
                await using (command.ConfigureAwait(false))
                {
                    command.Parameters.AddWithValue("me", ProcessIdentity.Token);
                    await command.ExecuteNonQueryAsync().ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
        {
            _logger.LogDebug(ex, "Deflake could not tidy its registry rows; the next collection will");
        }
    }

    internal static long TemplateLockKey(string fingerprint) => ProcessIdentity.StableKey("template:" + fingerprint);

    /// <summary>The advisory key every engine using the template holds shared (see <see cref="HoldUseLockAsync"/>).</summary>
    internal static long TemplateUseKey(string fingerprint) => ProcessIdentity.StableKey("template-use:" + fingerprint);

    private static void EnsureOwnName(string name)
    {
        if (!name.StartsWith(Prefix, StringComparison.Ordinal) || name.StartsWith(TemplatePrefix, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Database {name} is not a Deflake clone; Deflake will not touch it.");
        }
    }

    private static void ClearPool(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        NpgsqlConnection.ClearPool(connection);
    }

    /// <summary>Clears the pools of a clone that goes away: the app's, and Deflake's restore session's.</summary>
    private static async Task ClearPoolsAsync(EngineDatabase database)
    {
        ClearPool(database.ConnectionString);
        if (database.State is CloneState state)
        {
            await state.DisposeAsync().ConfigureAwait(false);
        }
    }

    private DatabaseMarker NewMarker(string kind, string fingerprint) => new()
    {
        Kind = kind,
        Owner = ProcessIdentity.Token,
        ProcessId = ProcessIdentity.ProcessId,
        Machine = ProcessIdentity.MachineName,
        Created = _time.GetUtcNow(),
        Fingerprint = fingerprint,
    };

    private async Task<NpgsqlConnection> OpenDedicatedAsync(string database, string applicationName, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(Admin.ConnectionString)
        {
            Database = database,
            Pooling = false,
            ApplicationName = applicationName,
        };
        var connection = new NpgsqlConnection(builder.ConnectionString);
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

    private readonly record struct FoundDatabase(bool IsTemplate, DatabaseMarker? Marker);

    private static async Task<FoundDatabase?> ReadDatabaseAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand("select datistemplate, shobj_description(oid, 'pg_database') from pg_database where datname = @name", connection);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.AddWithValue("name", name);
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }

                return new FoundDatabase(reader.GetBoolean(0), DatabaseMarker.TryParse(reader.IsDBNull(1) ? null : reader.GetString(1)));
            }
        }
    }

    private static Task SetMarkerAsync(NpgsqlConnection connection, string name, DatabaseMarker marker, CancellationToken cancellationToken)
        => ExecuteAsync(connection, $"comment on database {Quote.Identifier(name)} is {Quote.Literal(marker.ToJson())}", cancellationToken);

    private async Task DropDatabaseAsync(NpgsqlConnection connection, string name, bool isTemplate, CancellationToken cancellationToken)
    {
        var quoted = Quote.Identifier(name);
        if (isTemplate)
        {
            // A template cannot be dropped; only ever called for databases carrying Deflake's marker.
            await ExecuteAsync(connection,
                $"do $$ begin if exists (select from pg_database where datname = {Quote.Literal(name)} and datistemplate) then alter database {quoted} with is_template false; end if; end $$",
                cancellationToken).ConfigureAwait(false);
        }

        var force = _serverVersionNumber >= 130000 ? " with (force)" : "";
        if (force.Length == 0)
        {
            await ExecuteAsync(connection, $"select pg_terminate_backend(pid) from pg_stat_activity where datname = {Quote.Literal(name)}", cancellationToken).ConfigureAwait(false);
        }

        await RetryWhileInUseAsync(() => ExecuteAsync(connection, $"drop database if exists {quoted}{force}", cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Retries briefly on SQLSTATE 55006 (something, often an exiting backend, is still connected).</summary>
    private async Task RetryWhileInUseAsync(Func<Task> action, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var delay = 5;
        while (true)
        {
            try
            {
                await action().ConfigureAwait(false);
                return;
            }
            catch (PostgresException ex) when (ex.SqlState == ObjectInUse && _time.GetElapsedTime(started) < _options.CloneRetryTimeout)
            {
                _logger.LogDebug("Deflake retries after {Message}", ex.MessageText);
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = Math.Min(delay * 2, 200);
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, long? key, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await using (command.ConfigureAwait(false))
        {
            if (key is { } value)
            {
                command.Parameters.AddWithValue("key", value);
            }

            var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return result is T typed ? typed : default!;
        }
    }
}
