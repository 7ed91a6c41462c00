using Deflake.Coordination;
using Deflake.Internal;
using Microsoft.Extensions.Logging;

namespace Deflake.Sqlite;

/// <summary>
/// Collection on SQLite: the candidates are the owner folders of clones (an owner is gone when its <c>owner.lock</c> is
/// free), the files in <c>kept/</c> (kept when their file time says) and the template files named by a fingerprint (last
/// used when their file time says, of the lineage their sidecar records); the policy of what goes is
/// <see cref="CollectionPolicy"/>'s. A template goes under its build lock, and only when no live pool holds its sidecar.
/// </summary>
public sealed partial class SqliteEngine
{
    /// <summary>Templates are the cache: one unused for a week (a schema or Deflake build long gone) is removed.</summary>
    private static readonly TimeSpan TemplatesUnusedFor = TimeSpan.FromDays(7);

    /// <inheritdoc />
    /// <remarks>
    /// Collects the clone folders of owners that are gone in <c>clones</c> of the engine's directory, in the clone
    /// folder in use (memory or a chosen folder), and the memory clone folders of engine directories that no longer
    /// exist. A folder or file that vanishes or changes while it is examined (its owner ending at that moment) is
    /// skipped; only a clones folder that cannot be listed (permissions, disk) fails, naming the setting.
    /// </remarks>
    public async Task<int> RemoveOrphansAsync(TimeSpan keptRetention, CancellationToken cancellationToken = default)
    {
        var rules = new OrphanRules(DateTimeOffset.UtcNow, keptRetention, TemplatesUnusedFor, _ownerName);
        var removed = await RemoveDeadOwnersAsync(Path.Combine(_root, "clones"), DirectorySetting, rules, cancellationToken).ConfigureAwait(false);
        if (_separateClonesDirectory)
        {
            var setting = _options.ResolveCloneLocation().Setting;
            removed += await RemoveDeadOwnersAsync(_clonesDirectory, setting, rules, cancellationToken).ConfigureAwait(false);
            removed += await RemoveAbandonedCloneFoldersAsync(Path.GetDirectoryName(Path.GetDirectoryName(_clonesDirectory)!)!, rules, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            removed += await RemoveOldKeptAndTemplatesAsync(rules, cancellationToken).ConfigureAwait(false);
        }
        catch (DirectoryNotFoundException ex)
        {
            // The cache folder was deleted meanwhile (by hand): nothing left there to collect.
            _logger.LogDebug("Deflake found a SQLite cache folder gone while collecting: {Error}", ex.Message);
        }

        return removed;
    }

    /// <summary>Kept databases past the retention, templates unused for 7 days, then stale builds and sidecars.</summary>
    private async Task<int> RemoveOldKeptAndTemplatesAsync(OrphanRules rules, CancellationToken cancellationToken)
    {
        var candidates = new List<CollectionCandidate>();
        var kept = Path.Combine(_root, "kept");
        if (Directory.Exists(kept))
        {
            // A kept file's time is set when it is kept.
            candidates.AddRange(Directory.GetFiles(kept, "deflake_*.db")
                .Select(file => new CollectionCandidate(file, CollectableKind.Kept) { KeptAt = FileTime(file) }));
        }

        var templates = TemplatesDirectory;
        if (Directory.Exists(templates))
        {
            candidates.AddRange(TemplateFiles(templates).Select(template => ReadTemplate(template, withLineage: false)));
        }

        var removed = await CollectionPolicy.RemoveOrphansAsync(candidates, new Collector(_logger), rules, cancellationToken).ConfigureAwait(false);
        if (Directory.Exists(templates))
        {
            foreach (var building in Directory.GetFiles(templates, "*.building"))
            {
                var lockPath = Path.Combine(templates, Path.GetFileName(building).Split('.')[0] + ".lock");
                if (!CrossProcessLock.IsHeld(lockPath))
                {
                    DeleteQuietly(building);
                }
            }

            // A sidecar whose template is gone (its remover died in between): under the build lock, and only when free.
            foreach (var sidecar in Directory.GetFiles(templates, "*" + LineageExtension))
            {
                var template = Path.ChangeExtension(sidecar, ".db");
                if (IsFingerprint(Path.GetFileNameWithoutExtension(sidecar)) && !File.Exists(template))
                {
                    using var buildLock = CrossProcessLock.TryAcquire(Path.ChangeExtension(sidecar, ".lock"));
                    if (buildLock is not null && !File.Exists(template) && !CrossProcessLock.IsHeld(sidecar))
                    {
                        DeleteQuietly(sidecar);
                    }
                }
            }
        }

        return removed;
    }

    /// <summary>
    /// Collects the owner folders in <paramref name="clones"/> whose owner is gone. Entries that vanish or change while
    /// examined are skipped, and so is one that cannot be read (not Deflake's to touch); a clones folder that cannot be
    /// listed is an error naming <paramref name="setting"/>.
    /// </summary>
    private Task<int> RemoveDeadOwnersAsync(string clones, string setting, OrphanRules rules, CancellationToken cancellationToken)
    {
        string[] owners;
        try
        {
            owners = Directory.GetDirectories(clones);
        }
        catch (DirectoryNotFoundException)
        {
            return Task.FromResult(0);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DeflakeConfigurationException(setting,
                $"cannot list the folder '{clones}' to collect the clones of processes that are gone ({SettingFolders.Reason(clones, ex)}); make it readable and writable by this user, or point the setting at a folder that is.", ex);
        }

        return RemoveOwnerFoldersAsync(owners, rules, _logger, cancellationToken);
    }

    /// <summary>
    /// Collects owner folders: each with an <c>owner.lock</c> is a clone candidate owned by the folder's name, removed with
    /// its clones when the lock is free (taken first, so no one adopts the folder meanwhile); one without is being set up,
    /// or its process died before locking it (<see cref="RemoveUnfinishedOwnerFolder"/>). Returns the clones removed.
    /// </summary>
    internal static Task<int> RemoveOwnerFoldersAsync(IEnumerable<string> owners, OrphanRules rules, ILogger logger, CancellationToken cancellationToken)
    {
        var candidates = new List<CollectionCandidate>();
        foreach (var owner in owners)
        {
            try
            {
                if (!File.Exists(Path.Combine(owner, OwnerLockFile)))
                {
                    RemoveUnfinishedOwnerFolder(owner);
                    continue;
                }

                candidates.Add(new CollectionCandidate(owner, CollectableKind.Clone) { Owner = Path.GetFileName(owner) });
            }
            catch (Exception ex) when (ex is DirectoryNotFoundException or FileNotFoundException)
            {
                // Vanished while examined: its owner ended and removed it at this moment.
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                logger.LogDebug("Deflake skipped the SQLite clone folder {Folder}: {Error}", owner, ex.Message);
            }
        }

        return CollectionPolicy.RemoveOrphansAsync(candidates, new Collector(logger), rules, cancellationToken);
    }

    /// <summary>
    /// Deletes the clone files (<c>deflake_*</c>) of an owner folder whose lock this process holds; a folder that
    /// vanished meanwhile (its owner deleted it after releasing the lock) has none left. Returns the databases removed.
    /// </summary>
    internal static int RemoveClonesOfClaimedOwner(string owner)
    {
        string[] files;
        try
        {
            files = Directory.GetFiles(owner, "deflake_*");
        }
        catch (DirectoryNotFoundException)
        {
            return 0;
        }

        var removed = 0;
        foreach (var file in files)
        {
            if (DeleteQuietly(file))
            {
                removed += file.EndsWith(".db", StringComparison.Ordinal) ? 1 : 0;
            }
        }

        return removed;
    }

    /// <summary>
    /// An owner folder without owner.lock is being set up right now, or its process died in the few instructions
    /// between making the folder and renaming its held lock into place. Only the second, an hour on, is removed:
    /// its free staging lock files, then the folder if that left it empty. One that is gone already is skipped.
    /// </summary>
    internal static void RemoveUnfinishedOwnerFolder(string owner)
    {
        // A folder gone since it was listed reads as 1601-01-01 here, not as an error: ask whether it exists first.
        var folder = new DirectoryInfo(owner);
        if (!folder.Exists || folder.LastWriteTimeUtc > DateTime.UtcNow.AddHours(-1))
        {
            return;
        }

        string[] staged;
        try
        {
            staged = Directory.GetFiles(owner, OwnerLockFile + ".*.new");
        }
        catch (DirectoryNotFoundException)
        {
            return;
        }

        foreach (var staging in staged)
        {
            if (!CrossProcessLock.IsHeld(staging))
            {
                DeleteQuietly(staging);
            }
        }

        try
        {
            Directory.Delete(owner, recursive: false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not empty: something else lives there, and it is not ours to delete.
        }
    }

    /// <summary>
    /// The <c>sqlite-HASH</c> clone folders in <paramref name="parent"/> (memory or a chosen folder) whose engine
    /// directory no longer exists: nothing would ever collect their dead owners' clones, which hold memory until a
    /// reboot. Their dead owners' clones are removed, then the folders when that left them empty.
    /// </summary>
    private async Task<int> RemoveAbandonedCloneFoldersAsync(string parent, OrphanRules rules, CancellationToken cancellationToken)
    {
        var removed = 0;
        IEnumerable<string> folders;
        try
        {
            folders = Directory.GetDirectories(parent, "sqlite-*");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        foreach (var folder in folders)
        {
            try
            {
                // Only a folder named by the root its note records (Deflake's own), whose root is gone.
                if (new DirectoryInfo(folder).LinkTarget is not null || SqliteCloneFolders.ReadRootNote(folder) is not { } root
                    || Path.GetFileName(folder) != SqliteCloneFolders.FolderName(root) || root == _root || Directory.Exists(root))
                {
                    continue;
                }

                var clones = Path.Combine(folder, "clones");
                removed += await RemoveDeadOwnersAsync(clones, "SqliteEngineOptions.CloneDirectory", rules, cancellationToken).ConfigureAwait(false);
                SqliteCloneFolders.RemoveIfEmpty(clones);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DeflakeConfigurationException)
            {
                _logger.LogDebug("Deflake skipped the SQLite clone folder {Folder}: {Error}", folder, ex.Message);
            }
        }

        return removed;
    }

    /// <inheritdoc />
    /// <remarks>
    /// The other templates whose sidecar records the current lineage are sorted by last use (their file time); the
    /// <see cref="SqliteEngineOptions.KeepSupersededTemplates"/> most recent stay, and each of the rest is deleted under
    /// its build lock, checked again under it, when no live pool holds its sidecar.
    /// </remarks>
    public Task<int> RemoveSupersededTemplatesAsync(TemplateRequest current, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(current);
        var templates = TemplatesDirectory;
        if (_options.KeepSupersededTemplates is not { } keep || current.Lineage is not { Length: > 0 } lineage || !Directory.Exists(templates))
        {
            return Task.FromResult(0);
        }

        var candidates = TemplateFiles(templates).Select(template => ReadTemplate(template, withLineage: true));
        return CollectionPolicy.RemoveSupersededTemplatesAsync(candidates, new Collector(_logger), current.Fingerprint, current.Fingerprint + ".db", lineage, keep,
            cancellationToken);
    }

    /// <summary>A template file as collection sees it: its file time is its last use; its sidecar, when asked, its lineage.</summary>
    private static CollectionCandidate ReadTemplate(string template, bool withLineage)
    {
        var lastUsed = FileTime(template);
        return new CollectionCandidate(template, CollectableKind.Template)
        {
            Fingerprint = Path.GetFileNameWithoutExtension(template),
            Created = lastUsed,
            LastUsed = lastUsed,
            Lineage = withLineage ? ReadLineage(Path.ChangeExtension(template, LineageExtension)) : null,
        };
    }

    private static DateTimeOffset FileTime(string path) => new(File.GetLastWriteTimeUtc(path));

    /// <summary>The SQLite primitives of collection: owner folders, kept files and template files.</summary>
    private sealed class Collector(ILogger logger) : ICollectionPrimitives
    {
        /// <summary>An owner folder's owner is gone when its owner.lock is free (held while the engine lives, freed when its process dies).</summary>
        public Task<bool> IsOwnerGoneAsync(CollectionCandidate candidate, CancellationToken cancellationToken)
        {
            try
            {
                return Task.FromResult(!CrossProcessLock.IsHeld(Path.Combine(candidate.Name, OwnerLockFile)));
            }
            catch (Exception ex) when (ex is DirectoryNotFoundException or FileNotFoundException)
            {
                return Task.FromResult(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                logger.LogDebug("Deflake skipped the SQLite clone folder {Folder}: {Error}", candidate.Name, ex.Message);
                return Task.FromResult(false);
            }
        }

        public Task<int> RemoveAsync(CollectionCandidate candidate, string why, CancellationToken cancellationToken)
        {
            if (candidate.Kind == CollectableKind.Kept)
            {
                if (!DeleteQuietly(candidate.Name))
                {
                    return Task.FromResult(0);
                }

                logger.LogInformation("Deflake removed kept SQLite database {Path}: {Why}", candidate.Name, why);
                return Task.FromResult(1);
            }

            try
            {
                var removed = RemoveClaimableOwnerFolder(candidate.Name);
                if (removed > 0)
                {
                    logger.LogInformation("Deflake removed {Count} orphaned SQLite clone(s) in {Folder}: {Why}", removed, candidate.Name, why);
                }

                return Task.FromResult(removed);
            }
            catch (Exception ex) when (ex is DirectoryNotFoundException or FileNotFoundException)
            {
                // Vanished while examined: its owner ended and removed it at this moment.
                return Task.FromResult(0);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                logger.LogDebug("Deflake skipped the SQLite clone folder {Folder}: {Error}", candidate.Name, ex.Message);
                return Task.FromResult(0);
            }
        }

        /// <summary>
        /// Removes an owner folder's clones and the folder, once this process holds its owner.lock (taken here, so no one
        /// adopts the folder meanwhile; 0 when someone holds it). Returns the clones removed.
        /// </summary>
        private static int RemoveClaimableOwnerFolder(string owner)
        {
            var ownerLock = Path.Combine(owner, OwnerLockFile);
            using var claim = CrossProcessLock.TryAcquire(ownerLock);
            if (claim is null)
            {
                return 0;
            }

            var removed = RemoveClonesOfClaimedOwner(owner);
            claim.Dispose();
            DeleteQuietly(ownerLock);
            try
            {
                Directory.Delete(owner, recursive: false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Something else lives there (not ours to delete), or it is gone already.
            }

            return removed;
        }

        /// <summary>
        /// Deletes a template and its sidecar under its build lock, and only when no live pool uses it (the exclusive try on
        /// its sidecar fails while any holds it shared) and <paramref name="stillDue"/> holds for the template read again under the build lock.
        /// </summary>
        public Task<bool> TryDropTemplateAsync(CollectionCandidate candidate, Func<CollectionCandidate, bool> stillDue, string why, CancellationToken cancellationToken)
        {
            var template = candidate.Name;

            // Pools take their use lock only under the build lock, so none starts using the template while it goes.
            using var buildLock = CrossProcessLock.TryAcquire(Path.ChangeExtension(template, ".lock"));
            if (buildLock is null || !File.Exists(template) || !stillDue(ReadTemplate(template, withLineage: true)))
            {
                return Task.FromResult(false);
            }

            var sidecar = Path.ChangeExtension(template, LineageExtension);
            using (var unused = CrossProcessLock.TryAcquire(sidecar))
            {
                if (unused is null)
                {
                    logger.LogDebug("Deflake keeps SQLite template {Path}: a live pool uses it", template);
                    return Task.FromResult(false);
                }

                if (!DeleteQuietly(template))
                {
                    return Task.FromResult(false);
                }
            }

            // Released first (Windows deletes no file open without sharing); still under the build lock.
            DeleteQuietly(sidecar);
            logger.LogInformation("Deflake removed SQLite template {Path}: {Why}", template, why);
            return Task.FromResult(true);
        }
    }
}
