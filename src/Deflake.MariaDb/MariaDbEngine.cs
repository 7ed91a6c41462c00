using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
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

    /// <inheritdoc />
    public async Task<EngineTemplate> EnsureTemplateAsync(TemplateRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Fingerprint.Length is 0 or > 40 || !request.Fingerprint.All(char.IsAsciiHexDigitLower))
        {
            throw new ArgumentException($"Fingerprint '{request.Fingerprint}' is not 1-40 lower-case hex digits.", nameof(request));
        }

        var name = TemplatePrefix + request.Fingerprint;
        var gate = await OpenAdminAsync(cancellationToken, pooled: false).ConfigureAwait(false);
        await using (gate.ConfigureAwait(false))
        {
            // Held until this connection closes: the one builder per fingerprint, across processes and machines.
            await LockAsync(gate, TemplateLockName(request.Fingerprint), _options.TemplateWaitTimeout, cancellationToken).ConfigureAwait(false);
            var row = await ReadRowAsync(gate, name, cancellationToken).ConfigureAwait(false);
            var exists = await DatabaseExistsAsync(gate, name, cancellationToken).ConfigureAwait(false);
            if (row is { Kind: "template" } && exists)
            {
                var now = _time.GetUtcNow();
                // "Most recently used" decides which superseded templates stay, so keep it fresh.
                if (row.LastUsed is not { } last || now - last > TimeSpan.FromMinutes(1))
                {
                    await Connections.ExecuteAsync(gate, $"UPDATE {RegistryTable} SET last_used = @now WHERE name = @name", cancellationToken,
                        ("@now", now.UtcDateTime), ("@name", name)).ConfigureAwait(false);
                }

                await GetClonePlanAsync(name, cancellationToken).ConfigureAwait(false);
                await HoldUseAsync(gate, request.Fingerprint, cancellationToken).ConfigureAwait(false);
                if (request.Chaos.HasFlag(ChaosModes.Identities))
                {
                    IdentityReport = await Chaos.MariaDbTemplateChaos.ReportIdentitiesAsync(gate, name, request.Seed, cancellationToken).ConfigureAwait(false);
                }

                return new EngineTemplate(name, request.Fingerprint, WasBuilt: false) { IdentitiesNotCovered = IdentityReport.NotCovered };
            }

            if (exists && row is null)
            {
                throw new InvalidOperationException($"Database {name} exists but is not in Deflake's registry; Deflake will not touch it. Drop or rename it yourself.");
            }

            if (exists)
            {
                // A build whose builder died (the lock was free), or a template whose row went missing its kind: start over.
                await DropDatabaseAsync(gate, name, cancellationToken).ConfigureAwait(false);
            }

            await BuildTemplateAsync(gate, name, request, cancellationToken).ConfigureAwait(false);
            await HoldUseAsync(gate, request.Fingerprint, cancellationToken).ConfigureAwait(false);
            return new EngineTemplate(name, request.Fingerprint, WasBuilt: true) { IdentitiesNotCovered = IdentityReport.NotCovered };
        }
    }

    /// <summary>
    /// Marks the template as used by this engine until it is disposed (called under the template's build lock): takes a
    /// user lock of its own on the owner session, then records it in the registry. A row whose lock is free is stale.
    /// </summary>
    private async Task HoldUseAsync(MySqlConnection gate, string fingerprint, CancellationToken cancellationToken)
    {
        var owner = _owner ?? throw new InvalidOperationException("The MariaDB engine has not been started.");
        var lockName = $"deflake_use_{ProcessIdentity.Token}_{Interlocked.Increment(ref s_useCounter).ToString("x", CultureInfo.InvariantCulture)}";
        await owner.GetLockAsync(lockName, cancellationToken).ConfigureAwait(false);
        try
        {
            await RecordAsync(gate, lockName, "use", fingerprint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await owner.ReleaseLockAsync(lockName).ConfigureAwait(false);
            throw;
        }

        _uses.Enqueue(lockName);
    }

    private async Task BuildTemplateAsync(MySqlConnection gate, string name, TemplateRequest request, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        await RecordAsync(gate, name, "build", request.Fingerprint, cancellationToken, request.Lineage).ConfigureAwait(false);
        try
        {
            await Connections.ExecuteAsync(gate, $"CREATE DATABASE {Quote.Identifier(name)}", cancellationToken).ConfigureAwait(false);
            var builder = new MySqlConnectionStringBuilder(AdminConnectionString) { Database = name, Pooling = false };
            var connection = await Connections.OpenAsync(builder.ConnectionString, cancellationToken).ConfigureAwait(false);
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

                if (request.Chaos.HasFlag(ChaosModes.Identities))
                {
                    IdentityReport = await Chaos.MariaDbTemplateChaos.ApplyIdentitiesAsync(connection, request.Seed, _logger, cancellationToken).ConfigureAwait(false);
                }

                // After identities: the counters belong to the base tables and stay with them through the rename.
                if (request.Chaos.HasFlag(ChaosModes.Rows))
                {
                    RowsReport = await Chaos.MariaDbTemplateChaos.ApplyRowsAsync(connection, _logger, cancellationToken).ConfigureAwait(false);
                }
            }

            // Fails with a one-line error when the schema holds something clones could not copy.
            _clonePlans.TryRemove(name, out _);
            await GetClonePlanAsync(name, cancellationToken).ConfigureAwait(false);

            // Published: from here on the name refers to a finished template.
            await Connections.ExecuteAsync(gate, $"UPDATE {RegistryTable} SET kind = 'template', owner = NULL, pid = NULL, last_used = @now WHERE name = @name",
                cancellationToken, ("@now", _time.GetUtcNow().UtcDateTime), ("@name", name)).ConfigureAwait(false);
        }
        catch
        {
            _clonePlans.TryRemove(name, out _);
            try
            {
                await DropDatabaseAsync(gate, name, CancellationToken.None).ConfigureAwait(false);
                await ForgetAsync(gate, name, CancellationToken.None).ConfigureAwait(false);
            }
            catch (MySqlException dropError)
            {
                _logger.LogWarning(dropError, "Deflake could not drop the failed template build {Name}; orphan collection will", name);
            }

            throw;
        }

        _logger.LogInformation("Deflake built MariaDB template {Name} from {Schema} in {Elapsed:0} ms", name, request.Schema.Name, _time.GetElapsedTime(started).TotalMilliseconds);
    }

    private Task<string[]> GetClonePlanAsync(string template, CancellationToken cancellationToken)
    {
        var lazy = _clonePlans.GetOrAdd(template, t => new Lazy<Task<string[]>>(() => BuildClonePlanAsync(t, CancellationToken.None)));
        var task = lazy.Value;
        if (task.IsFaulted || task.IsCanceled)
        {
            _clonePlans.TryRemove(new KeyValuePair<string, Lazy<Task<string[]>>>(template, lazy));
        }

        return task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// The statements that fill a new, empty clone (run with the clone as the current database): each base table's
    /// <c>SHOW CREATE TABLE</c> (foreign keys and AUTO_INCREMENT included), an <c>INSERT … SELECT</c> of its stored
    /// columns when it has rows, then the views in dependency order. Read once per template: templates never change.
    /// </summary>
    private async Task<string[]> BuildClonePlanAsync(string template, CancellationToken cancellationToken)
    {
        var builder = new MySqlConnectionStringBuilder(AdminConnectionString) { Database = template, Pooling = false };
        var connection = await Connections.OpenAsync(builder.ConnectionString, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var unsupported = await Connections.RowsAsync(connection, """
                SELECT 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
                UNION ALL SELECT LOWER(ROUTINE_TYPE), ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
                UNION ALL SELECT 'event', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()
                UNION ALL SELECT LOWER(TABLE_TYPE), TABLE_NAME FROM information_schema.TABLES
                  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE NOT IN ('BASE TABLE', 'VIEW')
                LIMIT 1
                """, cancellationToken).ConfigureAwait(false);
            if (unsupported.Count > 0)
            {
                throw new NotSupportedException(
                    $"Deflake's MariaDB engine cannot clone {unsupported[0][0]} {Quote.Identifier((string)unsupported[0][1]!)}: triggers, stored routines, events, sequences and system-versioned tables are not copied yet; remove it from the schema, or use the PostgreSQL engine.");
            }

            var objects = await Connections.RowsAsync(connection,
                "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME", cancellationToken).ConfigureAwait(false);
            var tables = new List<string>();
            var inserts = new List<string>();
            var views = new List<(string Name, string Sql)>();
            var hidden = objects.Select(o => (string)o[0]!).Where(n => n.StartsWith(Chaos.MariaDbTemplateChaos.HiddenPrefix, StringComparison.Ordinal))
                .Select(n => n[Chaos.MariaDbTemplateChaos.HiddenPrefix.Length..]).ToHashSet(StringComparer.Ordinal);
            foreach (var row in objects)
            {
                var table = (string)row[0]!;
                if ((string)row[1]! == "VIEW")
                {
                    var create = await Connections.RowsAsync(connection, $"SHOW CREATE VIEW {Quote.Identifier(table)}", cancellationToken).ConfigureAwait(false);
                    views.Add((table, DefinerClause().Replace((string)create[0][1]!, "")));
                    continue;
                }

                var createTable = await Connections.RowsAsync(connection, $"SHOW CREATE TABLE {Quote.Identifier(table)}", cancellationToken).ConfigureAwait(false);
                tables.Add((string)createTable[0][1]!);
                var hasRows = await Connections.ScalarAsync(connection, $"SELECT EXISTS (SELECT 1 FROM {Quote.Identifier(table)})", cancellationToken).ConfigureAwait(false);
                if (Convert.ToInt64(hasRows, CultureInfo.InvariantCulture) == 0)
                {
                    continue;
                }

                var columns = await Connections.RowsAsync(connection, """
                    SELECT COLUMN_NAME FROM information_schema.COLUMNS
                    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = @table AND COALESCE(GENERATION_EXPRESSION, '') = ''
                    ORDER BY ORDINAL_POSITION
                    """, cancellationToken, ("@table", table)).ConfigureAwait(false);
                var list = string.Join(", ", columns.Select(c => Quote.Identifier((string)c[0]!)));
                inserts.Add($"INSERT INTO {Quote.Identifier(table)} ({list}) SELECT {list} FROM {Quote.Identifier(template)}.{Quote.Identifier(table)}");
            }

            return [.. tables, .. inserts, .. OrderViews(views, hidden)];
        }
    }

    /// <summary>
    /// Views that read other views come after them (SHOW CREATE VIEW names them as `name` in the same database). Rows chaos
    /// views (<paramref name="rowsViews"/>: a view named like a hidden table) read only their table, so they come first.
    /// </summary>
    private static IEnumerable<string> OrderViews(List<(string Name, string Sql)> views, HashSet<string> rowsViews)
    {
        foreach (var view in views.Where(v => rowsViews.Contains(v.Name)))
        {
            yield return view.Sql;
        }

        var remaining = views.Where(v => !rowsViews.Contains(v.Name)).ToList();
        while (remaining.Count > 0)
        {
            var ready = remaining.Where(v => remaining.All(o => o.Name == v.Name || !v.Sql.Contains(Quote.Identifier(o.Name), StringComparison.Ordinal))).ToList();
            if (ready.Count == 0)
            {
                ready = [remaining[0]];
            }

            foreach (var view in ready)
            {
                remaining.Remove(view);
                yield return view.Sql;
            }
        }
    }

    [GeneratedRegex(@"DEFINER=`(?:[^`]|``)*`@`(?:[^`]|``)*`\s+")]
    private static partial Regex DefinerClause();

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
