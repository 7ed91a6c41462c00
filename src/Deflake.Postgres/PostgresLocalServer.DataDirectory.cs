using System.Globalization;
using System.Text;
using Deflake.Internal;

namespace Deflake.Postgres;

/// <summary>
/// Where the throwaway server keeps its data: in memory (a tmpfs folder, where a commit costs no disk flush) when it can,
/// else on disk, as <see cref="PostgresLocalServerOptions.DataDirectory"/> says; and how a data folder is recognised as
/// Deflake's and as in use by a live server.
/// </summary>
public sealed partial class PostgresLocalServer
{
    private string DiskDataDirectory => Path.Combine(ServerDirectory, "data");

    /// <summary>
    /// Decides where the data lives (see <see cref="PostgresLocalServerOptions.DataDirectory"/>), records it for the
    /// processes that attach and for the watchdog, and removes this server's previous data folder when it moved
    /// (an older Deflake's on-disk folder, or memory after switching to disk): one server keeps one copy.
    /// </summary>
    private async Task ChooseDataDirectoryAsync(CancellationToken cancellationToken)
    {
        var location = _options.ResolveDataLocation();
        string? parent = null;
        switch (location.Kind)
        {
            case DataLocationKind.Disk:
                DataDirectoryReason = $"on disk ({location.Setting}=disk)";
                break;
            case DataLocationKind.Folder:
                parent = Path.Combine(location.Folder!, ServerFolderName);
                DataDirectoryReason = $"in {location.Folder} ({location.Setting})";
                SettingFolders.CreateWritable(parent, location.Setting);

                break;
            default:
                var (memory, whyNot) = await TryPrepareMemoryAsync(cancellationToken).ConfigureAwait(false);
                if (memory is not null)
                {
                    parent = memory;
                    DataDirectoryReason = location.Kind == DataLocationKind.Memory ? $"in memory ({location.Setting}=memory)" : "in memory";
                }
                else if (location.Kind == DataLocationKind.Memory)
                {
                    throw new DeflakeConfigurationException(location.Setting,
                        $"asks for in-memory data, but {whyNot}; free memory there, or set it to auto (falls back to disk) or disk.");
                }
                else
                {
                    DataDirectoryReason = $"on disk: {whyNot} (set {DeflakeEnvironment.PostgresDataDirectory} to choose)";
                }

                break;
        }

        var chosen = parent is null ? DiskDataDirectory : Path.Combine(parent, "data");
        if (parent is not null)
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(parent, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            await File.WriteAllTextAsync(Path.Combine(parent, OwnerNoteFile), ServerDirectory, cancellationToken).ConfigureAwait(false);
        }

        var notePath = Path.Combine(ServerDirectory, DataNoteFile);
        foreach (var previous in new[] { ReadNote(notePath), DiskDataDirectory }.Distinct(StringComparer.Ordinal))
        {
            if (previous is null || previous == chosen || !IsDeflakeDataDirectory(previous))
            {
                continue;
            }

            if (IsPostmasterAlive(previous))
            {
                // Something still runs from there (not answering on the socket): leave it, and it, alone.
                chosen = previous;
                DataDirectoryReason = "where the previous server still runs";
                break;
            }

            try
            {
                Directory.Delete(previous, recursive: true);
                var previousParent = Path.GetDirectoryName(previous)!;
                if (previousParent != ServerDirectory && Directory.EnumerateFileSystemEntries(previousParent).All(e => Path.GetFileName(e) == OwnerNoteFile))
                {
                    Directory.Delete(previousParent, recursive: true);
                }

                DataDirectoryReason += $"; removed the previous data folder {previous}";
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                DataDirectoryReason += $"; could not remove the previous data folder {previous} ({ex.Message})";
            }
        }

        DataDirectory = chosen;
        await File.WriteAllTextAsync(notePath, chosen, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>postgres-MAJOR-HASH</c>: HASH names the server folder, so two runtime directories never share data.</summary>
    private string ServerFolderName
    {
        get
        {
            var hash = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(ServerDirectory));
            return $"postgres-{MajorVersion.ToString(CultureInfo.InvariantCulture)}-{Convert.ToHexStringLower(hash, 0, 4)}";
        }
    }

    /// <summary>
    /// Makes <c>/dev/shm/deflake-USER/postgres-MAJOR-HASH</c> when the in-memory file system is there, writable, has
    /// room, and the per-user folder is this user's own (not a link); returns it, or null and why not.
    /// </summary>
    private async Task<(string? Folder, string WhyNot)> TryPrepareMemoryAsync(CancellationToken cancellationToken)
    {
        var (user, whyNot) = await MemoryFolders.TryUserFolderAsync(_options.MemoryFileSystem, _options.MemoryMinimumFreeBytes, cancellationToken)
            .ConfigureAwait(false);
        if (user is null || OperatingSystem.IsWindows())
        {
            return (null, whyNot);
        }

        // Private; when root runs the server as another user, that user may pass through (not list) to its own folder.
        File.SetUnixFileMode(user, _runAs is null
            ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        RemoveAbandonedMemoryFolders(user);
        var folder = Path.Combine(user, ServerFolderName);
        Directory.CreateDirectory(folder);
        return (folder, "");
    }

    /// <summary>
    /// In-memory data folders whose server folder is gone (a deleted runtime directory) or now uses other data, and
    /// that no server runs from: they would hold memory until the next reboot.
    /// </summary>
    private void RemoveAbandonedMemoryFolders(string userFolder)
    {
        foreach (var folder in Directory.EnumerateDirectories(userFolder, "postgres-*"))
        {
            try
            {
                var info = new DirectoryInfo(folder);
                var data = Path.Combine(folder, "data");
                if (info.LinkTarget is not null || DateTime.UtcNow - info.LastWriteTimeUtc < TimeSpan.FromMinutes(10)
                    || ReadNote(Path.Combine(folder, OwnerNoteFile)) is not { } owner || owner == ServerDirectory
                    || (Directory.Exists(owner) && ReadNote(Path.Combine(owner, DataNoteFile)) == data)
                    || IsPostmasterAlive(data) || (Directory.Exists(data) && !IsDeflakeDataDirectory(data)))
                {
                    continue;
                }

                Directory.Delete(folder, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Another process is removing or using it; the next start looks again.
            }
        }
    }

    private static bool DirectoryIsLink(string path) => new DirectoryInfo(path).LinkTarget is not null;

    /// <summary>A data folder Deflake made: its postgresql.conf carries Deflake's line (or it is an unfinished initdb).</summary>
    private static bool IsDeflakeDataDirectory(string path)
    {
        if (!Directory.Exists(path) || DirectoryIsLink(path))
        {
            return false;
        }

        var conf = Path.Combine(path, "postgresql.conf");
        try
        {
            return File.Exists(conf) && File.ReadAllText(conf).Contains(ConfMarker, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Whether the process in the data folder's <c>postmaster.pid</c> is alive.</summary>
    private static bool IsPostmasterAlive(string dataDirectory)
    {
        try
        {
            var pidFile = Path.Combine(dataDirectory, "postmaster.pid");
            if (!File.Exists(pidFile))
            {
                return false;
            }

            var first = File.ReadLines(pidFile).FirstOrDefault();
            if (!int.TryParse(first, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
            {
                return false;
            }

            if (Directory.Exists("/proc/self"))
            {
                return Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}");
            }

            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    private static string? ReadNote(string path)
    {
        try
        {
            var text = File.Exists(path) ? File.ReadAllText(path).Trim() : "";
            return text.Length == 0 ? null : text;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
