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
