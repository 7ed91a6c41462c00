using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Deflake.Coordination;

/// <summary>Who this process is, for naming what it owns and for recognising owners that are gone.</summary>
public static class ProcessIdentity
{
    private static readonly Lazy<string> LazyToken = new(() =>
    {
        using var process = Process.GetCurrentProcess();
        var text = $"{Environment.MachineName}\n{Environment.ProcessId}\n{process.StartTime.ToUniversalTime().Ticks}";
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        return Convert.ToHexStringLower(hash.AsSpan(0, 5));
    });

    /// <summary>This process's id.</summary>
    public static int ProcessId => Environment.ProcessId;

    /// <summary>This machine's name.</summary>
    public static string MachineName => Environment.MachineName;

    /// <summary>
    /// Ten hex characters that tell this process apart from every other on any machine, even after its pid is
    /// reused. Safe in database and file names.
    /// </summary>
    public static string Token => LazyToken.Value;

    /// <summary>A 63-bit key derived from <see cref="Token"/>, for advisory locks.</summary>
    public static long LockKey => StableKey("owner:" + Token);

    /// <summary>A stable 63-bit key for a text (for advisory locks); the same on every machine and run.</summary>
    public static long StableKey(string text)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        return BitConverter.ToInt64(hash, 0) & long.MaxValue;
    }
}
