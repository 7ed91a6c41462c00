using System.Collections.Concurrent;
using System.Globalization;

namespace Deflake.Internal;

/// <summary>
/// The per-user folder in the in-memory file system (<c>/dev/shm/deflake-USER</c>) where the throwaway PostgreSQL
/// server's data and SQLite's file clones live when they can, so that a commit costs no disk flush. One source file,
/// compiled into each engine that uses it.
/// </summary>
internal static class MemoryFolders
{
    /// <summary>Per-user folders this process found to be its user's own (the check runs a shell once per folder).</summary>
    private static readonly ConcurrentDictionary<string, bool> Verified = new(StringComparer.Ordinal);

    /// <summary>
    /// <c>ROOT/deflake-USER</c> when <paramref name="root"/> is there, has <paramref name="minimumFreeBytes"/> free, and that
    /// folder is this user's own and no link (it sits in a world-writable place); made private when new (an existing one
    /// keeps its mode: a throwaway PostgreSQL server run as another user by root may need to pass through it). Otherwise
    /// null, and why not.
    /// </summary>
    public static async Task<(string? Folder, string WhyNot)> TryUserFolderAsync(string root, long minimumFreeBytes, CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows() || !Directory.Exists(root))
        {
            return (null, $"there is no {root} (in-memory file system) here");
        }

        long free;
        try
        {
            free = new DriveInfo(root).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return (null, $"the free space of {root} is unknown ({ex.Message})");
        }

        if (free < minimumFreeBytes)
        {
            return (null, string.Create(CultureInfo.InvariantCulture,
                $"{root} has {free >> 20} MB free, under the {minimumFreeBytes >> 20} MB it needs"));
        }

        var user = Path.Combine(root, "deflake-" + SafeName(Environment.UserName));
        try
        {
            Directory.CreateDirectory(user, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (null, $"{root} is not writable ({ex.Message})");
        }

        if (!Verified.ContainsKey(user))
        {
            var owned = await ProcessRunner.RunAsync("/bin/sh", ["-c", "test -d \"$0\" && test ! -L \"$0\" && test -O \"$0\"", user],
                TimeSpan.FromSeconds(10), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (owned.ExitCode != 0)
            {
                return (null, $"'{user}' is not a folder of this user's own");
            }

            Verified[user] = true;
        }

        return (user, "");
    }

    /// <summary>A name made safe as one folder name: ASCII letters, digits, <c>.</c>, <c>_</c> and <c>-</c>, never hidden.</summary>
    public static string SafeName(string name)
    {
        var safe = new string(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '_').ToArray());
        return safe.Length == 0 || safe.StartsWith('.') ? "user" + safe : safe;
    }
}
