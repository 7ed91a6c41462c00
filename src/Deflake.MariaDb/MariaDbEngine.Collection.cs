using System.Globalization;
using Deflake.Coordination;
using Deflake.MariaDb.Internal;
using Microsoft.Extensions.Logging;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb;

/// <summary>
/// Collection on MariaDB/MySQL: the candidates are the rows of Deflake's registry (a database not in it is never touched);
/// the policy of what goes is <see cref="CollectionPolicy"/>'s. Templates go under their build lock, and only when every
/// <c>use</c> row of their fingerprint has a free lock.
/// </summary>
public sealed partial class MariaDbEngine
{
    private const string CandidateColumns = "name, kind, owner, pid, machine, fingerprint, created, kept_at, last_used, lineage";

    /// <inheritdoc />
    public async Task<int> RemoveOrphansAsync(TimeSpan keptRetention, CancellationToken cancellationToken = default)
    {
        var connection = await OpenAdminAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var rows = await Connections.RowsAsync(connection,
                $"SELECT {CandidateColumns} FROM {RegistryTable} WHERE owner IS NULL OR owner <> @me ORDER BY name",
                cancellationToken, ("@me", ProcessIdentity.Token)).ConfigureAwait(false);
            var collector = new Collector(this, connection);
            var candidates = collector.ToCandidates(rows.Where(row => (string)row[1]! != "use"));
            var rules = new OrphanRules(_time.GetUtcNow(), keptRetention, _options.DropTemplatesUnusedFor, ProcessIdentity.Token);
            var removed = await CollectionPolicy.RemoveOrphansAsync(candidates, collector, rules, cancellationToken).ConfigureAwait(false);

            // Bookkeeping, not databases: a template use is forgotten once its engine is gone (its lock is free).
            foreach (var row in rows.Where(row => (string)row[1]! == "use"))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var name = (string)row[0]!;
                if (name.StartsWith(Prefix, StringComparison.Ordinal) && await IsLockFreeAsync(connection, name, cancellationToken).ConfigureAwait(false))
                {
                    await ForgetAsync(connection, name, cancellationToken).ConfigureAwait(false);
                }
            }

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

        var connection = await OpenAdminAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var rows = await Connections.RowsAsync(connection,
                $"SELECT {CandidateColumns} FROM {RegistryTable} WHERE kind = 'template' AND lineage = @lineage",
                cancellationToken, ("@lineage", lineage)).ConfigureAwait(false);
            var collector = new Collector(this, connection);
            return await CollectionPolicy.RemoveSupersededTemplatesAsync(rows.Select(ToCandidate), collector, current.Fingerprint,
                TemplatePrefix + current.Fingerprint, lineage, keep, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// What a registry row (<see cref="CandidateColumns"/>) is to collection: only a template named by its fingerprint is
    /// a template, only a clone or a build is owned, and only a name with Deflake's prefix that is not the registry's is
    /// anything at all.
    /// </summary>
    internal static CollectionCandidate ToCandidate(object?[] row)
    {
        var name = (string)row[0]!;
        var kind = (string)row[1]!;
        var fingerprint = (string?)row[5];
        if (name == RegistryDatabase)
        {
            return new CollectionCandidate(name, CollectableKind.Registry);
        }

        if (!name.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return new CollectionCandidate(name, CollectableKind.Unmarked);
        }

        var created = AsUtc(row[6]);
        return kind switch
        {
            "template" when fingerprint is not null && name == TemplatePrefix + fingerprint => new CollectionCandidate(name, CollectableKind.Template)
            {
                Fingerprint = fingerprint, Created = created, LastUsed = AsUtc(row[8]), Lineage = (string?)row[9],
            },
            "kept" => new CollectionCandidate(name, CollectableKind.Kept) { Created = created, KeptAt = AsUtc(row[7]) },
            "clone" or "build" => new CollectionCandidate(name, CollectableKind.Clone)
            {
                Owner = (string?)row[2], ProcessId = row[3] is null ? null : Convert.ToInt32(row[3], CultureInfo.InvariantCulture),
                Machine = (string?)row[4], Created = created,
            },
            _ => new CollectionCandidate(name, CollectableKind.Unmarked),
        };
    }

    private static async Task<bool> IsLockFreeAsync(MySqlConnection connection, string lockName, CancellationToken cancellationToken)
        => Convert.ToInt64(await Connections.ScalarAsync(connection, "SELECT IS_FREE_LOCK(@name)", cancellationToken, ("@name", lockName)).ConfigureAwait(false), CultureInfo.InvariantCulture) == 1;

    private static async Task<bool> IsStatementRunningAsync(MySqlConnection connection, string database, CancellationToken cancellationToken)
        => Convert.ToInt64(await Connections.ScalarAsync(connection,
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INSTR(INFO, @name) > 0",
            cancellationToken, ("@name", database)).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0;

    /// <summary>The MariaDB primitives of one collection, on one admin session (which takes and frees the user locks).</summary>
    private sealed class Collector(MariaDbEngine engine, MySqlConnection connection) : ICollectionPrimitives
    {
        /// <summary>Template builds seen (name → fingerprint): the build lock protects them too.</summary>
        private readonly Dictionary<string, string?> _builds = new(StringComparer.Ordinal);

        /// <summary>The registry rows as candidates, noting the template builds among them.</summary>
        public List<CollectionCandidate> ToCandidates(IEnumerable<object?[]> rows)
        {
            var candidates = new List<CollectionCandidate>();
            foreach (var row in rows)
            {
                if ((string)row[1]! == "build")
                {
                    _builds[(string)row[0]!] = (string?)row[5];
                }

                candidates.Add(ToCandidate(row));
            }

            return candidates;
        }

        /// <summary>Whether the owner's process is gone: its owner lock, held by every live engine's owner session, is free.</summary>
        public async Task<bool> IsOwnerGoneAsync(CollectionCandidate candidate, CancellationToken cancellationToken)
            => await IsLockFreeAsync(connection, OwnerSession.LockName(candidate.Owner!), cancellationToken).ConfigureAwait(false);

        public async Task<int> RemoveAsync(CollectionCandidate candidate, string why, CancellationToken cancellationToken)
        {
            var name = candidate.Name;
            if (candidate.Kind != CollectableKind.Clone)
            {
                return await DropAndForgetAsync(name, why, cancellationToken).ConfigureAwait(false);
            }

            if (!_builds.TryGetValue(name, out var fingerprint))
            {
                return await RemoveOwnedAsync(candidate, why, cancellationToken).ConfigureAwait(false);
            }

            // A build is also protected by its template lock: taken here (never waited for), so its builder cannot be
            // running, and held while the row is read again — a build that finished since it was listed is a published
            // template now (seen: a collector that listed a build, then found its owner's lock free once the owner's last
            // engine was disposed, dropped the template it had just become).
            var lockName = TemplateLockName(fingerprint ?? "");
            if (Convert.ToInt64(await Connections.ScalarAsync(connection, "SELECT GET_LOCK(@name, 0)", cancellationToken, ("@name", lockName)).ConfigureAwait(false), CultureInfo.InvariantCulture) != 1)
            {
                return 0;
            }

            try
            {
                return await RemoveOwnedAsync(candidate, why, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await UnlockAsync(connection, lockName).ConfigureAwait(false);
            }
        }

        /// <summary>Drops an owned database whose owner is gone, if its registry row still says so (kind and owner unchanged since listed).</summary>
        private async Task<int> RemoveOwnedAsync(CollectionCandidate candidate, string why, CancellationToken cancellationToken)
        {
            var name = candidate.Name;
            var fresh = await Connections.RowsAsync(connection, $"SELECT {CandidateColumns} FROM {RegistryTable} WHERE name = @name", cancellationToken,
                ("@name", name)).ConfigureAwait(false);
            if (fresh.Count == 0 || ToCandidate(fresh[0]) is not { Kind: CollectableKind.Clone } now || now.Owner != candidate.Owner)
            {
                return 0;
            }

            // The dead owner's statement (a clone being filled) may still be finishing on the server: next time.
            if (await IsStatementRunningAsync(connection, name, cancellationToken).ConfigureAwait(false))
            {
                return 0;
            }

            return await DropAndForgetAsync(name, why, cancellationToken).ConfigureAwait(false);
        }

        private async Task<int> DropAndForgetAsync(string name, string why, CancellationToken cancellationToken)
        {
            await DropDatabaseAsync(connection, name, cancellationToken).ConfigureAwait(false);
            await ForgetAsync(connection, name, cancellationToken).ConfigureAwait(false);
            engine._logger.LogInformation("Deflake removed orphaned database {Name}: {Why}", name, why);
            return 1;
        }

        /// <summary>
        /// Drops a registered template under its build lock, and only when no live engine uses it (every <c>use</c> row of its
        /// fingerprint has a free lock) and its row, read again under the lock, satisfies <paramref name="stillDue"/>.
        /// </summary>
        public async Task<bool> TryDropTemplateAsync(CollectionCandidate candidate, Func<CollectionCandidate, bool> stillDue, string why, CancellationToken cancellationToken)
        {
            var name = candidate.Name;
            var fingerprint = candidate.Fingerprint ?? throw new ArgumentException("The template has no fingerprint.", nameof(candidate));
            var lockName = TemplateLockName(fingerprint);
            if (Convert.ToInt64(await Connections.ScalarAsync(connection, "SELECT GET_LOCK(@name, 0)", cancellationToken, ("@name", lockName)).ConfigureAwait(false), CultureInfo.InvariantCulture) != 1)
            {
                return false;
            }

            try
            {
                var fresh = await Connections.RowsAsync(connection, $"SELECT {CandidateColumns} FROM {RegistryTable} WHERE name = @name", cancellationToken,
                    ("@name", name)).ConfigureAwait(false);
                if (fresh.Count == 0 || !stillDue(ToCandidate(fresh[0])))
                {
                    return false;
                }

                // New users register under the build lock this session holds, so the set read here is complete.
                var uses = await Connections.RowsAsync(connection, $"SELECT name FROM {RegistryTable} WHERE kind = 'use' AND fingerprint = @fingerprint",
                    cancellationToken, ("@fingerprint", fingerprint)).ConfigureAwait(false);
                foreach (var use in uses)
                {
                    if (!await IsLockFreeAsync(connection, (string)use[0]!, cancellationToken).ConfigureAwait(false))
                    {
                        engine._logger.LogDebug("Deflake keeps template {Name}: a live pool uses it", name);
                        return false;
                    }
                }

                await DropDatabaseAsync(connection, name, cancellationToken).ConfigureAwait(false);
                await ForgetAsync(connection, name, cancellationToken).ConfigureAwait(false);
                await Connections.ExecuteAsync(connection, $"DELETE FROM {RegistryTable} WHERE kind = 'use' AND fingerprint = @fingerprint", cancellationToken,
                    ("@fingerprint", fingerprint)).ConfigureAwait(false);
                engine._logger.LogInformation("Deflake removed template {Name}: {Why}", name, why);
                return true;
            }
            finally
            {
                await UnlockAsync(connection, lockName).ConfigureAwait(false);
            }
        }
    }
}
