using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using Deflake.Coordination;
using Deflake.MariaDb.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb;

/// <summary>
/// MariaDB/MySQL engine: one template database per schema fingerprint, built once across processes under a
/// <c>GET_LOCK</c> named after the fingerprint, and per test a clone made by re-running the template's own
/// <c>SHOW CREATE TABLE</c> (which keeps foreign keys and the AUTO_INCREMENT counter; <c>CREATE TABLE … LIKE</c> keeps
/// neither), copying the rows with <c>INSERT … SELECT</c>, and recreating its views.
/// Uses <c>DEFLAKE_MARIADB</c> when set, otherwise a throwaway local server (<see cref="MariaDbLocalServer"/>).
/// </summary>
/// <remarks>
/// Every database it creates is named <c>deflake_…</c> and is recorded, with its owning process, in Deflake's own
/// database <c>deflake_registry</c> <em>before</em> it is created. Each engine's process holds the user lock
/// <c>deflake_owner_TOKEN</c> on a dedicated session for its lifetime, so orphan collection can tell a crashed owner
/// (the lock is free) from a live one. Databases not in the registry are never touched. An engine also marks the template
/// it clones as in use: it holds a user lock of its own, <c>deflake_use_TOKEN_N</c>, on that session and records it in the
/// registry (kind <c>use</c>, with the template's fingerprint) under the template's build lock; a template superseded by a
/// newer one of its lineage is dropped only when every such lock is free (a dead process's locks go with its session). Triggers, stored routines,
/// events and sequences in the schema are not copied: building such a template fails with a one-line error naming the object.
/// </remarks>
/// <example>
/// <code>
/// await using var pool = await TestDatabasePool.CreateAsync(new MariaDbEngine(),
///     new TestDatabaseOptions { Schema = SchemaSource.FromSqlDirectory("migrations") });
/// </code>
/// </example>
public sealed partial class MariaDbEngine : IDatabaseEngine
{
    internal const string Prefix = "deflake_";
    internal const string TemplatePrefix = "deflake_tpl_";
    internal const string RegistryDatabase = "deflake_registry";
    internal const string RegistryTable = "`deflake_registry`.`databases`";
    private static long s_cloneCounter;
    private static long s_useCounter;

    private readonly ResolvedMariaDbOptions _options;
    private readonly ConcurrentDictionary<string, Lazy<Task<string[]>>> _clonePlans = new(StringComparer.Ordinal);
    private int _seesLocks; // 0: not asked yet, 1: yes, 2: no
    private readonly ConcurrentDictionary<string, Lazy<Task<Recycling.MariaDbRecycling.Plan>>> _recyclePlans = new(StringComparer.Ordinal);
    private MySqlConnectionStringBuilder? _admin;
    private OwnerSession? _owner;
    private readonly ConcurrentQueue<string> _uses = new();
    private MariaDbLocalServer? _localServer;
    private ILogger _logger = NullLogger.Instance;
    private TimeProvider _time = TimeProvider.System;
    private int _disposed;

    /// <summary>Creates the engine; nothing connects until the pool starts it.</summary>
    /// <exception cref="DeflakeConfigurationException">An option or <c>DEFLAKE_MARIADB</c> is invalid.</exception>
    public MariaDbEngine(MariaDbEngineOptions? options = null)
    {
        _options = (options ?? new MariaDbEngineOptions()).Resolve();
    }

    /// <inheritdoc />
    public string Kind => "mariadb";

    /// <inheritdoc />
    public DbProviderFactory ProviderFactory => MySqlClientFactory.Instance;

    /// <summary>The throwaway server in use, or null when a connection string was given.</summary>
    public MariaDbLocalServer? LocalServer => _localServer;

    /// <summary>
    /// What identities chaos did to the template this engine built or reused (read back from the catalog when reused;
    /// empty when identities is off).
    /// </summary>
    public IdentityChaosReport IdentityReport { get; private set; } = IdentityChaosReport.Empty;

    /// <summary>
    /// What rows chaos did to the template this engine built: each table's view order, and what is not guaranteed (empty when
    /// it reused a template or rows is off).
    /// </summary>
    public MariaDbRowChaosReport RowsReport { get; private set; } = MariaDbRowChaosReport.Empty;

    private MySqlConnectionStringBuilder Admin => _admin ?? throw new InvalidOperationException("The MariaDB engine has not been started.");

    private string AdminConnectionString => Admin.ConnectionString;

    /// <inheritdoc />
    public async Task<string> StartAsync(EngineContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _logger = context.Logger;
        _time = context.TimeProvider;
        MySqlConnectionStringBuilder admin;
        if (_options.Admin is null)
        {
            _localServer = await MariaDbLocalServer.StartAsync(_options.LocalServer, cancellationToken).ConfigureAwait(false);
            admin = new MySqlConnectionStringBuilder(_localServer.ConnectionString);
            _logger.LogInformation("Deflake uses the throwaway MariaDB {Version} server in {Directory} ({State}), data in {DataDirectory}",
                _localServer.Version, _localServer.ServerDirectory, _localServer.WasStarted ? "started" : "attached", _localServer.DataDirectory);
        }
        else
        {
            admin = new MySqlConnectionStringBuilder(_options.Admin.ConnectionString);
        }

        admin.Database = "";
        admin.AllowUserVariables = true;
        admin.CharacterSet = "utf8mb4";
        admin.PersistSecurityInfo = true;
        _admin = admin;

        try
        {
            _owner = await OwnerSession.AcquireAsync(admin.ConnectionString, cancellationToken).ConfigureAwait(false);
        }
        catch (MySqlException ex) when (!cancellationToken.IsCancellationRequested)
        {
            var reason = ex.Number != 0 ? $"error {ex.Number.ToString(CultureInfo.InvariantCulture)}: {MariaDbEngineOptions.FirstLine(ex.Message)}" : MariaDbEngineOptions.FirstLine(ex.InnerException?.Message ?? ex.Message);
            throw new DeflakeConfigurationException(_options.Setting,
                $"cannot connect to MariaDB/MySQL at {Connections.Where(admin)} as '{admin.UserID}' ({reason}); start the server or fix the connection string"
                + (_options.Admin is null ? "." : ", or unset it to use a throwaway local server."), ex);
        }

        var connection = await OpenAdminAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var version = (string)(await Connections.ScalarAsync(connection, "SELECT VERSION()", cancellationToken).ConfigureAwait(false))!;
            await EnsureRegistryAsync(connection, cancellationToken).ConfigureAwait(false);
            return version;
        }
    }

    private static async Task EnsureRegistryAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        await LockAsync(connection, "deflake_registry", TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
        try
        {
            var tables = await Connections.RowsAsync(connection,
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = @db", cancellationToken, ("@db", RegistryDatabase)).ConfigureAwait(false);
            var exists = await Connections.ScalarAsync(connection,
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = @db", cancellationToken, ("@db", RegistryDatabase)).ConfigureAwait(false);
            if (Convert.ToInt64(exists, CultureInfo.InvariantCulture) > 0 && tables.Any(t => (string)t[0]! != "databases"))
            {
                throw new InvalidOperationException(
                    $"Database {RegistryDatabase} exists but is not Deflake's (it holds other tables); Deflake will not touch it. Rename it, or use another server.");
            }

            await Connections.ExecuteAsync(connection, $"""
                CREATE DATABASE IF NOT EXISTS {Quote.Identifier(RegistryDatabase)} CHARACTER SET utf8mb4;
                CREATE TABLE IF NOT EXISTS {RegistryTable} (
                  name VARCHAR(64) NOT NULL PRIMARY KEY,
                  kind VARCHAR(16) NOT NULL,
                  owner VARCHAR(32) NULL,
                  pid INT NULL,
                  machine VARCHAR(255) NULL,
                  fingerprint VARCHAR(64) NULL,
                  created DATETIME(6) NOT NULL,
                  kept_at DATETIME(6) NULL,
                  last_used DATETIME(6) NULL
                ) ENGINE=InnoDB COMMENT='Deflake: every database Deflake creates, recorded before it is created, with its owner process'
                """, cancellationToken).ConfigureAwait(false);

            // Added later, nullable, so older Deflake builds sharing the server keep working (their templates have none
            // and only the age rule removes them). MySQL has no ADD COLUMN IF NOT EXISTS: look first, under the lock.
            var hasLineage = await Connections.ScalarAsync(connection,
                "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = @db AND TABLE_NAME = 'databases' AND COLUMN_NAME = 'lineage'",
                cancellationToken, ("@db", RegistryDatabase)).ConfigureAwait(false);
            if (Convert.ToInt64(hasLineage, CultureInfo.InvariantCulture) == 0)
            {
                await Connections.ExecuteAsync(connection, $"ALTER TABLE {RegistryTable} ADD COLUMN lineage VARCHAR(64) NULL", cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await UnlockAsync(connection, "deflake_registry").ConfigureAwait(false);
        }
    }

    private static DateTimeOffset? AsUtc(object? value) => value is DateTime time ? new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)) : null;

    /// <summary>Stops being an owner (releases the owner lock when this was the process's last engine on the server). Drops nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_owner is not null)
        {
            await ReleaseUsesAsync(_owner).ConfigureAwait(false);
            await _owner.DisposeAsync().ConfigureAwait(false);
        }

        if (_localServer is not null)
        {
            await _localServer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Ends this engine's template uses: frees each lock (which alone makes it unused), then forgets its row.</summary>
    private async Task ReleaseUsesAsync(OwnerSession owner)
    {
        var names = new List<string>();
        while (_uses.TryDequeue(out var name))
        {
            names.Add(name);
            try
            {
                await owner.ReleaseLockAsync(name).ConfigureAwait(false);
            }
            catch (MySqlException ex)
            {
                _logger.LogDebug(ex, "Deflake could not release {Lock}; closing the session will", name);
            }
        }

        if (names.Count == 0)
        {
            return;
        }

        try
        {
            var connection = await OpenAdminAsync(CancellationToken.None).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                foreach (var name in names)
                {
                    await ForgetAsync(connection, name, CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        catch (MySqlException ex)
        {
            _logger.LogDebug(ex, "Deflake could not tidy its use rows; the next collection will");
        }
    }

    internal static string TemplateLockName(string fingerprint) => "deflake_tpl_" + fingerprint[..Math.Min(40, fingerprint.Length)];

    private static void EnsureOwnName(string name)
    {
        if (!name.StartsWith(Prefix, StringComparison.Ordinal) || name.StartsWith(TemplatePrefix, StringComparison.Ordinal) || name == RegistryDatabase)
        {
            throw new InvalidOperationException($"Database {name} is not a Deflake clone; Deflake will not touch it.");
        }
    }

    private Task<MySqlConnection> OpenAdminAsync(CancellationToken cancellationToken, bool pooled = true)
        => Connections.OpenAsync(pooled ? AdminConnectionString : new MySqlConnectionStringBuilder(AdminConnectionString) { Pooling = false }.ConnectionString, cancellationToken);

    private static async Task LockAsync(MySqlConnection connection, string lockName, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var seconds = Math.Max(1, (long)Math.Ceiling(timeout.TotalSeconds));
        var got = await Connections.ScalarAsync(connection, "SELECT GET_LOCK(@name, @seconds)", cancellationToken, ("@name", lockName), ("@seconds", seconds)).ConfigureAwait(false);
        if (Convert.ToInt64(got, CultureInfo.InvariantCulture) != 1)
        {
            throw new TimeoutException($"Deflake waited {timeout.TotalMinutes:0.#} min for the lock {lockName}, held by another process (MariaDbEngineOptions.TemplateWaitTimeout).");
        }
    }

    private static async Task UnlockAsync(MySqlConnection connection, string lockName)
    {
        await Connections.ScalarAsync(connection, "SELECT RELEASE_LOCK(@name)", CancellationToken.None, ("@name", lockName)).ConfigureAwait(false);
    }

    private sealed record RegistryRow(string Kind, string? Owner, DateTimeOffset? LastUsed, string? Lineage);

    private static async Task<RegistryRow?> ReadRowAsync(MySqlConnection connection, string name, CancellationToken cancellationToken)
    {
        var rows = await Connections.RowsAsync(connection, $"SELECT kind, owner, last_used, lineage FROM {RegistryTable} WHERE name = @name", cancellationToken, ("@name", name)).ConfigureAwait(false);
        return rows.Count == 0 ? null : new RegistryRow((string)rows[0][0]!, (string?)rows[0][1], AsUtc(rows[0][2]), (string?)rows[0][3]);
    }

    private static async Task<bool> DatabaseExistsAsync(MySqlConnection connection, string name, CancellationToken cancellationToken)
        => Convert.ToInt64(await Connections.ScalarAsync(connection, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = @name", cancellationToken, ("@name", name)).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0;

    /// <summary>Records a database with this process as its owner, before it is created.</summary>
    private Task RecordAsync(MySqlConnection connection, string name, string kind, string fingerprint, CancellationToken cancellationToken, string? lineage = null)
        => Connections.ExecuteAsync(connection,
            $"""
            INSERT INTO {RegistryTable} (name, kind, owner, pid, machine, fingerprint, created, lineage) VALUES (@name, @kind, @owner, @pid, @machine, @fingerprint, @created, @lineage)
            ON DUPLICATE KEY UPDATE kind = VALUES(kind), owner = VALUES(owner), pid = VALUES(pid), machine = VALUES(machine), fingerprint = VALUES(fingerprint), created = VALUES(created), kept_at = NULL, lineage = VALUES(lineage)
            """,
            cancellationToken, ("@name", name), ("@kind", kind), ("@owner", ProcessIdentity.Token), ("@pid", ProcessIdentity.ProcessId),
            ("@machine", ProcessIdentity.MachineName), ("@fingerprint", fingerprint), ("@created", _time.GetUtcNow().UtcDateTime), ("@lineage", lineage));

    private static Task ForgetAsync(MySqlConnection connection, string name, CancellationToken cancellationToken)
        => Connections.ExecuteAsync(connection, $"DELETE FROM {RegistryTable} WHERE name = @name", cancellationToken, ("@name", name));

    /// <summary>Ends the sessions still using the database (a test's pooled connections), then drops it.</summary>
    private static async Task DropDatabaseAsync(MySqlConnection connection, string name, CancellationToken cancellationToken)
    {
        var sessions = await Connections.RowsAsync(connection, "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = @name AND ID <> CONNECTION_ID()",
            cancellationToken, ("@name", name)).ConfigureAwait(false);
        foreach (var session in sessions)
        {
            try
            {
                await Connections.ExecuteAsync(connection, $"KILL CONNECTION {Convert.ToInt64(session[0], CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)}", cancellationToken).ConfigureAwait(false);
            }
            catch (MySqlException ex) when (ex.Number == 1094)
            {
                // Unknown thread id: it ended by itself.
            }
        }

        await Connections.ExecuteAsync(connection, $"DROP DATABASE IF EXISTS {Quote.Identifier(name)}", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The session that holds <c>deflake_owner_TOKEN</c> for this process on one server. A user lock belongs to one
    /// session, so every engine of the process on that server shares it; the last one to go closes it.
    /// </summary>
    private sealed class OwnerSession : IAsyncDisposable
    {
        private static readonly SemaphoreSlim Gate = new(1, 1);
        private static readonly Dictionary<string, (MySqlConnection Connection, int Count)> Sessions = new(StringComparer.Ordinal);
        private readonly string _key;
        private int _disposed;

        private OwnerSession(string key) => _key = key;

        public static string LockName(string owner) => "deflake_owner_" + owner;

        public static async Task<OwnerSession> AcquireAsync(string adminConnectionString, CancellationToken cancellationToken)
        {
            var builder = new MySqlConnectionStringBuilder(adminConnectionString) { Pooling = false };
            var key = builder.ConnectionString;
            await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (Sessions.TryGetValue(key, out var existing) && existing.Connection.State == System.Data.ConnectionState.Open)
                {
                    Sessions[key] = (existing.Connection, existing.Count + 1);
                    return new OwnerSession(key);
                }

                var connection = await Connections.OpenAsync(key, cancellationToken).ConfigureAwait(false);
                try
                {
                    // An idle owner session must not time out: that would make this process look dead.
                    await Connections.ExecuteAsync(connection, "SET SESSION wait_timeout = 31536000", cancellationToken).ConfigureAwait(false);
                    var got = await Connections.ScalarAsync(connection, "SELECT GET_LOCK(@name, 10)", cancellationToken, ("@name", LockName(ProcessIdentity.Token))).ConfigureAwait(false);
                    if (Convert.ToInt64(got, CultureInfo.InvariantCulture) != 1)
                    {
                        throw new InvalidOperationException($"Deflake could not take its owner lock {LockName(ProcessIdentity.Token)} on the MariaDB server.");
                    }
                }
                catch
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                    throw;
                }

                Sessions[key] = (connection, 1);
                return new OwnerSession(key);
            }
            finally
            {
                Gate.Release();
            }
        }

        /// <summary>Takes another user lock on the shared session (a session may hold several); freed with the session.</summary>
        public async Task GetLockAsync(string lockName, CancellationToken cancellationToken)
        {
            await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var connection = Sessions.TryGetValue(_key, out var entry) ? entry.Connection : throw new ObjectDisposedException(nameof(OwnerSession));
                var got = await Connections.ScalarAsync(connection, "SELECT GET_LOCK(@name, 10)", cancellationToken, ("@name", lockName)).ConfigureAwait(false);
                if (Convert.ToInt64(got, CultureInfo.InvariantCulture) != 1)
                {
                    throw new InvalidOperationException($"Deflake could not take its lock {lockName} on the MariaDB server.");
                }
            }
            finally
            {
                Gate.Release();
            }
        }

        public async Task ReleaseLockAsync(string lockName)
        {
            await Gate.WaitAsync().ConfigureAwait(false);
            try
            {
                if (Sessions.TryGetValue(_key, out var entry) && entry.Connection.State == System.Data.ConnectionState.Open)
                {
                    await Connections.ScalarAsync(entry.Connection, "SELECT RELEASE_LOCK(@name)", CancellationToken.None, ("@name", lockName)).ConfigureAwait(false);
                }
            }
            finally
            {
                Gate.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            await Gate.WaitAsync().ConfigureAwait(false);
            try
            {
                if (Sessions.TryGetValue(_key, out var entry))
                {
                    if (entry.Count > 1)
                    {
                        Sessions[_key] = (entry.Connection, entry.Count - 1);
                        return;
                    }

                    Sessions.Remove(_key);
                    await entry.Connection.DisposeAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                Gate.Release();
            }
        }
    }
}
