using System.Globalization;
using System.Text.RegularExpressions;
using Deflake.Coordination;
using Deflake.MariaDb.Internal;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb;

/// <summary>
/// Templates on MariaDB/MySQL: one per schema fingerprint, built once across processes under the fingerprint's
/// <c>GET_LOCK</c>, marked as in use by this engine, and turned into a clone plan (<c>SHOW CREATE TABLE</c> of every
/// table, then the views in dependency order).
/// </summary>
public sealed partial class MariaDbEngine
{
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
}
