namespace Deflake.Internal;

/// <summary>
/// Folders that a setting names (<c>DEFLAKE_RUNTIME_DIR</c>, <c>DEFLAKE_CACHE_DIR</c>, <c>DEFLAKE_SQLITE_CLONE_DIR</c>,
/// <c>DEFLAKE_POSTGRES_DATA_DIR</c> or their options): made, or an error of one line naming the setting, the folder
/// that failed and the fix. One source file, compiled into Deflake and each engine.
/// </summary>
internal static class SettingFolders
{
    /// <summary>
    /// Creates <paramref name="folder"/> (and its parents) unless it exists, optionally with a Unix mode; any failure is
    /// a <see cref="DeflakeConfigurationException"/> for <paramref name="setting"/>.
    /// </summary>
    public static string Create(string folder, string setting, UnixFileMode? mode = null)
    {
        try
        {
            if (mode is { } unixMode && !OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(folder, unixMode);
            }
            else
            {
                Directory.CreateDirectory(folder);
            }

            return folder;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw Error(setting, folder, ex);
        }
    }

    /// <summary>Creates <paramref name="folder"/> and proves this user can make files in it; otherwise the error of <see cref="Create"/>.</summary>
    public static string CreateWritable(string folder, string setting)
    {
        Create(folder, setting);
        var probe = Path.Combine(folder, $".deflake-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }

            return folder;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw Error(setting, folder, ex);
        }
    }

    /// <summary>
    /// The one-line error: "SETTING: cannot create or write the folder 'FOLDER' (why); point SETTING at a writable folder."
    /// The reason names the file that stands in the way when a parent of the folder is a file.
    /// </summary>
    public static DeflakeConfigurationException Error(string setting, string folder, Exception error)
        => new(setting, $"cannot create or write the folder '{folder}' ({Reason(folder, error)}); point {setting} at a writable folder.", error);

    /// <summary>Why <paramref name="folder"/> failed, without the trailing period of the exception's message.</summary>
    public static string Reason(string folder, Exception error)
    {
        for (var parent = Path.GetDirectoryName(folder); !string.IsNullOrEmpty(parent); parent = Path.GetDirectoryName(parent))
        {
            if (File.Exists(parent))
            {
                return $"'{parent}' is a file, not a folder";
            }

            if (Directory.Exists(parent))
            {
                break;
            }
        }

        return error.Message.Trim().TrimEnd('.');
    }
}
