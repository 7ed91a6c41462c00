using System.Security.Cryptography;
using System.Text;
using Deflake.Internal;

namespace Deflake.Sqlite;

/// <summary>
/// Where an engine's file clones go (see <see cref="SqliteEngineOptions.CloneDirectory"/>): <c>clones</c> in the
/// engine's directory (disk), or <c>sqlite-HASH/clones</c> in memory (<c>/dev/shm/deflake-USER</c>) or in a chosen
/// folder, HASH naming the engine's directory. A <c>root</c> note in <c>sqlite-HASH</c> names that directory, so the
/// folder of a directory that no longer exists can be recognised and collected.
/// </summary>
internal static class SqliteCloneFolders
{
    /// <summary>In <c>sqlite-HASH</c>: the engine directory whose clones it holds.</summary>
    public const string RootNoteFile = "root";

    /// <summary>The clones folder chosen, why there, and whether it is a <c>sqlite-HASH/clones</c> folder (not disk).</summary>
    public sealed record Choice(string Clones, string Reason, bool Separate);

    /// <summary><c>sqlite-HASH</c>: HASH names the engine directory, so two directories never share clone folders.</summary>
    public static string FolderName(string root)
        => "sqlite-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(root)), 0, 4);

    /// <summary>
    /// Decides where clones go and creates the folder. Memory unavailable under <c>auto</c> falls back to disk (the
    /// reason says why); under <c>memory</c>, or a folder that cannot be created, it is a configuration error.
    /// </summary>
    public static async Task<Choice> ChooseAsync(SqliteEngineOptions options, string root, CancellationToken cancellationToken)
    {
        var disk = Path.Combine(root, "clones");
        if (options.CloneMode == SqliteCloneMode.Memory)
        {
            return new Choice(disk, "in-memory clones make no files", false);
        }

        var location = options.ResolveCloneLocation();
        switch (location.Kind)
        {
            case CloneLocationKind.Disk:
                return new Choice(disk, $"on disk ({location.Setting}=disk)", false);
            case CloneLocationKind.Folder:
                try
                {
                    return new Choice(Prepare(location.Folder!, root), $"in {location.Folder} ({location.Setting})", true);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new DeflakeConfigurationException(location.Setting,
                        $"cannot create or write the folder '{location.Folder}' ({SettingFolders.Reason(location.Folder!, ex)}); set it to a writable local folder, or to auto.", ex);
                }

            default:
                var (user, whyNot) = await MemoryFolders.TryUserFolderAsync(options.MemoryFileSystem, options.MemoryMinimumFreeBytes, cancellationToken).ConfigureAwait(false);
                if (user is not null)
                {
                    try
                    {
                        var clones = Prepare(user, root);
                        return new Choice(clones, location.Kind == CloneLocationKind.Memory ? $"in memory ({location.Setting}=memory)" : "in memory", true);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        whyNot = $"'{user}' is not writable ({SettingFolders.Reason(user, ex)})";
                    }
                }

                if (location.Kind == CloneLocationKind.Memory)
                {
                    throw new DeflakeConfigurationException(location.Setting,
                        $"asks for clones in memory, but {whyNot}; free memory there, or set it to auto (falls back to disk) or disk.");
                }

                return new Choice(disk, $"on disk: {whyNot} (set {DeflakeEnvironment.SqliteCloneDirectory} to choose)", false);
        }
    }

    /// <summary>Makes <c>PARENT/sqlite-HASH/clones</c> (private to the user) with its root note; returns the clones folder.</summary>
    private static string Prepare(string parent, string root)
    {
        var folder = Path.Combine(parent, FolderName(root));
        var clones = Path.Combine(folder, "clones");
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(clones);
        }
        else
        {
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.CreateDirectory(clones, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        // Rewritten at every start (after the clones folder exists, so a collector that removes an empty folder
        // together with its note cannot leave this one without it).
        File.WriteAllText(Path.Combine(folder, RootNoteFile), root);
        return clones;
    }

    /// <summary>The root a <c>sqlite-HASH</c> folder's note names; null when there is none or it cannot be read.</summary>
    public static string? ReadRootNote(string folder)
    {
        try
        {
            var text = File.ReadAllText(Path.Combine(folder, RootNoteFile)).Trim();
            return text.Length > 0 ? text : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Removes <c>sqlite-HASH/clones</c>, then its note and the folder, each only if empty: nothing is left when
    /// no owner folder (live or not yet collected) and nothing foreign is in it.
    /// </summary>
    public static void RemoveIfEmpty(string clones)
    {
        var folder = Path.GetDirectoryName(clones)!;
        try
        {
            Directory.Delete(clones, recursive: false);
            if (Directory.EnumerateFileSystemEntries(folder).All(e => Path.GetFileName(e) == RootNoteFile))
            {
                File.Delete(Path.Combine(folder, RootNoteFile));
                Directory.Delete(folder, recursive: false);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // In use (an owner folder appeared), already gone, or holds something else: left as it is.
        }
    }
}
