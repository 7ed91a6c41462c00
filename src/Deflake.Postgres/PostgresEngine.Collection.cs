using Deflake.Coordination;
using Deflake.Postgres.Internal;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Deflake.Postgres;

/// <summary>
/// Collection on PostgreSQL: the candidates are the databases named <c>deflake_…</c> with Deflake's marker in their comment
/// (and, for clones whose owner died before marking them, the rows of the registry's <c>pending</c> table); the policy
/// of what goes is <see cref="CollectionPolicy"/>'s. Templates go under their build lock, and only when the exclusive try on
/// their use key shows no live engine uses them.
/// </summary>
public sealed partial class PostgresEngine
{
    /// <inheritdoc />
    public async Task<int> RemoveOrphansAsync(TimeSpan keptRetention, CancellationToken cancellationToken = default)
    {
        var connection = await OpenDedicatedAsync(Admin.Database!, "deflake gc", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var collector = new Collector(this, connection);
            var candidates = await collector.ListAsync(
                "select datname, datistemplate, shobj_description(oid, 'pg_database') from pg_database where datname like 'deflake\\_%' order by datname",
                cancellationToken).ConfigureAwait(false);
            var rules = new OrphanRules(_time.GetUtcNow(), keptRetention, _options.DropTemplatesUnusedFor, ProcessIdentity.Token);
            var removed = await CollectionPolicy.RemoveOrphansAsync(candidates, collector, rules, cancellationToken).ConfigureAwait(false);
            removed += await RemoveUnmarkedOrphansAsync(connection, collector, cancellationToken).ConfigureAwait(false);
            return removed;
        }
    }

    /// <inheritdoc />
    public async Task<int> RemoveSupersededTemplatesAsync(TemplateRequest current, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(current);
        if (_options.KeepSupersededTemplates is not { } keep || current.Lineage is not { Length: > 0 } lineage)
        {
            return 0;
        }

        var connection = await OpenDedicatedAsync(Admin.Database!, "deflake gc", cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var collector = new Collector(this, connection);
            var templates = await collector.ListAsync(
                "select datname, datistemplate, shobj_description(oid, 'pg_database') from pg_database where datname like 'deflake\\_tpl\\_%' and datistemplate",
                cancellationToken).ConfigureAwait(false);
            return await CollectionPolicy.RemoveSupersededTemplatesAsync(templates, collector, current.Fingerprint, TemplatePrefix + current.Fingerprint, lineage, keep,
                cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// What a database is to collection, from its name and marker: only a template named by the fingerprint its marker
    /// records is a template; a database without a marker is not provably Deflake's.
    /// </summary>
    internal static CollectionCandidate ToCandidate(string name, DatabaseMarker? marker)
    {
        if (marker is null)
        {
            return new CollectionCandidate(name, CollectableKind.Unmarked);
        }

        if (marker.Kind == "registry")
        {
            return new CollectionCandidate(name, CollectableKind.Registry);
        }

        if (name.StartsWith(TemplatePrefix, StringComparison.Ordinal))
        {
            return marker is { Kind: "template", Fingerprint: { } fingerprint } && name == TemplatePrefix + fingerprint
                ? new CollectionCandidate(name, CollectableKind.Template)
                {
                    Fingerprint = fingerprint, Created = marker.Created, LastUsed = marker.LastUsed, Lineage = marker.Lineage,
                }
                : new CollectionCandidate(name, CollectableKind.Unmarked);
        }

        // A kept database whose marker records no time of keeping (an older Deflake's) counts from its creation.
        return marker.Kept
            ? new CollectionCandidate(name, CollectableKind.Kept) { Created = marker.Created, KeptAt = marker.KeptAt ?? marker.Created }
            : new CollectionCandidate(name, CollectableKind.Clone) { Owner = marker.Owner, ProcessId = marker.ProcessId, Machine = marker.Machine, Created = marker.Created };
    }

    /// <summary>
    /// Databases whose owner died after <c>CREATE DATABASE</c> but before their marker was written: the registry
    /// proves they are Deflake's. Registry rows of dead owners are then forgotten.
    /// </summary>
    private async Task<int> RemoveUnmarkedOrphansAsync(NpgsqlConnection admin, Collector collector, CancellationToken cancellationToken)
    {
        var pending = new List<(string Name, string Owner, bool Old)>();
        var registry = await Registry.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (registry.ConfigureAwait(false))
        {
            var list = new NpgsqlCommand("select name, owner, created < now() - interval '1 hour' from pending where owner <> @me", registry);
            await using (list.ConfigureAwait(false))
            {
                list.Parameters.AddWithValue("me", ProcessIdentity.Token);
                var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        pending.Add((reader.GetString(0), reader.GetString(1), reader.GetBoolean(2)));
                    }
                }
            }

            var removed = 0;
            foreach (var (name, owner, old) in pending)
            {
                if (!await collector.IsGoneAsync(owner, cancellationToken).ConfigureAwait(false))
                {
                    continue;
                }

                var found = await ReadDatabaseAsync(admin, name, cancellationToken).ConfigureAwait(false);
                if (found is { Marker: null } unmarked && name.StartsWith(Prefix, StringComparison.Ordinal) && !name.StartsWith(TemplatePrefix, StringComparison.Ordinal)
                    && name != RegistryDatabase && name.Contains(owner, StringComparison.Ordinal))
                {
                    await DropDatabaseAsync(admin, name, unmarked.IsTemplate, cancellationToken).ConfigureAwait(false);
                    _logger.LogInformation("Deflake removed orphaned database {Name}: its owner died before marking it", name);
                    removed++;
                }
                else if (found is null && !old && await IsStatementRunningAsync(admin, name, cancellationToken).ConfigureAwait(false))
                {
                    // The dead owner's CREATE DATABASE may still be finishing on the server: remember it for a later collection.
                    continue;
                }

                var forget = new NpgsqlCommand("delete from pending where name = @name and owner = @owner", registry);
                await using (forget.ConfigureAwait(false))
                {
                    forget.Parameters.AddWithValue("name", name);
                    forget.Parameters.AddWithValue("owner", owner);
                    await forget.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            return removed;
        }
    }

    private static async Task<bool> IsStatementRunningAsync(NpgsqlConnection connection, string database, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(
            "select exists (select from pg_stat_activity where pid <> pg_backend_pid() and state = 'active' and strpos(query, @name) > 0)", connection);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.AddWithValue("name", database);
            return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
    }

    /// <summary>The PostgreSQL primitives of one collection, on one dedicated session (which takes and frees the advisory locks).</summary>
    private sealed class Collector(PostgresEngine engine, NpgsqlConnection connection) : ICollectionPrimitives
    {
        private readonly Dictionary<string, bool> _isTemplate = new(StringComparer.Ordinal);
        private readonly Dictionary<string, bool> _ownerGone = new(StringComparer.Ordinal);

        /// <summary>The databases <paramref name="sql"/> lists (name, datistemplate, comment), as candidates.</summary>
        public async Task<List<CollectionCandidate>> ListAsync(string sql, CancellationToken cancellationToken)
        {
            var candidates = new List<CollectionCandidate>();
            var list = new NpgsqlCommand(sql, connection);
            await using (list.ConfigureAwait(false))
            {
                var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        var name = reader.GetString(0);
                        _isTemplate[name] = reader.GetBoolean(1);
                        candidates.Add(ToCandidate(name, DatabaseMarker.TryParse(reader.IsDBNull(2) ? null : reader.GetString(2))));
                    }
                }
            }

            return candidates;
        }

        /// <summary>
        /// Whether the owner's process is gone on any machine: the exclusive try on its owner key succeeds only when no
        /// session holds it shared (every live engine does, and a dead process's session is gone). Asked once per owner.
        /// </summary>
        public async Task<bool> IsGoneAsync(string owner, CancellationToken cancellationToken)
        {
            if (!_ownerGone.TryGetValue(owner, out var gone))
            {
                var key = ProcessIdentity.StableKey("owner:" + owner);
                gone = await ScalarAsync<bool>(connection, "select pg_try_advisory_lock(@key)", key, cancellationToken).ConfigureAwait(false);
                if (gone)
                {
                    await ScalarAsync<bool>(connection, "select pg_advisory_unlock(@key)", key, cancellationToken).ConfigureAwait(false);
                }

                _ownerGone[owner] = gone;
            }

            return gone;
        }

        public Task<bool> IsOwnerGoneAsync(CollectionCandidate candidate, CancellationToken cancellationToken)
            => IsGoneAsync(candidate.Owner ?? throw new ArgumentException("The candidate has no owner.", nameof(candidate)), cancellationToken);

        public async Task<int> RemoveAsync(CollectionCandidate candidate, string why, CancellationToken cancellationToken)
        {
            if (candidate.Kind == CollectableKind.Clone)
            {
                // Read again: a clone listed as its owner's may have been kept since (its marker detached from the owner just
                // before the owner's last engine went, which is when the owner first looks gone).
                var current = await ReadDatabaseAsync(connection, candidate.Name, cancellationToken).ConfigureAwait(false);
                if (current is not { } found || ToCandidate(candidate.Name, found.Marker) is not { Kind: CollectableKind.Clone } now || now.Owner != candidate.Owner)
                {
                    return 0;
                }
            }

            await engine.DropDatabaseAsync(connection, candidate.Name, _isTemplate.GetValueOrDefault(candidate.Name), cancellationToken).ConfigureAwait(false);
            engine._logger.LogInformation("Deflake removed orphaned database {Name}: {Why}", candidate.Name, why);
            return 1;
        }

        /// <summary>
        /// Drops a Deflake template under its build lock, and only when no live engine uses it (the exclusive try on its use
        /// key fails while any holds it shared) and its marker, read again under the locks, still satisfies <paramref name="stillDue"/>.
        /// </summary>
        public async Task<bool> TryDropTemplateAsync(CollectionCandidate candidate, Func<CollectionCandidate, bool> stillDue, string why, CancellationToken cancellationToken)
        {
            var name = candidate.Name;
            var fingerprint = candidate.Fingerprint ?? throw new ArgumentException("The template has no fingerprint.", nameof(candidate));

            // Under the template's build lock, so no pool is building it or starting to use it while it goes.
            var buildKey = TemplateLockKey(fingerprint);
            if (!await ScalarAsync<bool>(connection, "select pg_try_advisory_lock(@key)", buildKey, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            try
            {
                var useKey = TemplateUseKey(fingerprint);
                if (!await ScalarAsync<bool>(connection, "select pg_try_advisory_lock(@key)", useKey, cancellationToken).ConfigureAwait(false))
                {
                    engine._logger.LogDebug("Deflake keeps template {Name}: a live pool uses it", name);
                    return false;
                }

                try
                {
                    var current = await ReadDatabaseAsync(connection, name, cancellationToken).ConfigureAwait(false);
                    if (current is not { IsTemplate: true } found || !stillDue(ToCandidate(name, found.Marker)))
                    {
                        return false;
                    }

                    await engine.DropDatabaseAsync(connection, name, isTemplate: true, cancellationToken).ConfigureAwait(false);
                    engine._logger.LogInformation("Deflake removed template {Name}: {Why}", name, why);
                    return true;
                }
                finally
                {
                    await ScalarAsync<bool>(connection, "select pg_advisory_unlock(@key)", useKey, CancellationToken.None).ConfigureAwait(false);
                }
            }
            finally
            {
                await ScalarAsync<bool>(connection, "select pg_advisory_unlock(@key)", buildKey, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }
}
