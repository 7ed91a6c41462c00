using System.Text;
using Deflake.Coordination;

namespace Deflake.Internal;

/// <summary>
/// What every throwaway local server does before it starts or attaches: a runtime folder whose socket path fits, and the
/// cross-process lock under which one process starts it. One source file, compiled into Deflake.Postgres and
/// Deflake.MariaDb, like <see cref="ProcessRunner"/>.
/// </summary>
internal static class LocalServerStart
{
    /// <summary>
    /// The runtime folder (option <paramref name="option"/>, else <c>DEFLAKE_RUNTIME_DIR</c>), created and proved
    /// writable, as a full path; else a one-line error naming whichever setting chose it.
    /// </summary>
    public static string RuntimeDirectory(string? configured, string option)
    {
        var runtime = Path.GetFullPath(configured ?? DeflakeEnvironment.GetRuntimeDirectory());
        return SettingFolders.CreateWritable(runtime, configured is null ? DeflakeEnvironment.RuntimeDirectory : option);
    }

    /// <summary>Fails with a one-line error when <paramref name="socketPath"/> is longer than a Unix socket path may be.</summary>
    public static void CheckSocketPath(string runtime, string socketPath)
    {
        if (Encoding.UTF8.GetByteCount(socketPath) > 107)
        {
            throw new DeflakeConfigurationException(DeflakeEnvironment.RuntimeDirectory,
                $"'{runtime}' is too long for a Unix socket path ({socketPath.Length} > 107 bytes); set DEFLAKE_RUNTIME_DIR to a shorter folder such as /tmp/deflake.");
        }
    }

    /// <summary>
    /// Takes the server's start lock, noting who holds it; a wait longer than <paramref name="timeout"/> fails with a
    /// one-line error naming <paramref name="timeoutSetting"/>, the server's log and the variable that points at a server instead.
    /// </summary>
    public static async Task<CrossProcessLock> AcquireLockAsync(string lockPath, TimeSpan timeout, string timeoutSetting, string server,
        string logFile, string serverVariable, CancellationToken cancellationToken)
    {
        CrossProcessLock gate;
        try
        {
            gate = await CrossProcessLock.AcquireAsync(lockPath, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new DeflakeConfigurationException(timeoutSetting,
                $"another process has been starting the throwaway {server} for over {timeout.TotalSeconds:0} s (lock '{lockPath}'); see {logFile} or set {serverVariable}.", ex);
        }

        gate.WriteNote($"pid {Environment.ProcessId} on {Environment.MachineName}");
        return gate;
    }

    /// <summary>
    /// The idle watchdog of a throwaway server, a plain shell loop run detached: it stops the server once no client has
    /// been connected for <c>$idle</c> seconds, under the same flock (<c>$lock</c>) the .NET side takes to start or
    /// attach, and only when nobody attached within the idle period either, so a process that has just attached (and is
    /// about to connect) never loses its server.
    /// </summary>
    /// <param name="head">The shebang, the arguments read into <c>dir</c>, <c>lock</c>, <c>idle</c> and <c>interval</c>
    /// (and the server's own), <c>watchdog.pid</c> written, and a <c>clients</c> function that prints how many other
    /// clients are connected (or "busy" when it cannot tell).</param>
    /// <param name="serverRunning">A test that fails once the server is gone (the watchdog then exits).</param>
    /// <param name="stopServer">The command that stops the server.</param>
    public static string WatchdogScript(string head, string serverRunning, string stopServer) => $$"""
        {{head}}
        attached() { stat -c %Y "$dir/attached" 2>/dev/null || echo 0; }
        last=$(date +%s)
        while sleep "$interval"; do
          [ "$(cat "$dir/watchdog.pid" 2>/dev/null)" = "$$" ] || exit 0
          {{serverRunning}} || exit 0
          now=$(date +%s)
          if [ "$(clients)" != "0" ]; then last=$now; continue; fi
          a=$(attached); [ "$a" -gt "$last" ] && last=$a
          [ $((now - last)) -ge "$idle" ] || continue
          if (
            flock -n 9 || exit 1
            [ "$(clients)" = "0" ] || exit 1
            [ $(( $(date +%s) - $(attached) )) -ge "$idle" ] || exit 1
            {{stopServer}} >/dev/null 2>&1
          ) 9>>"$lock"; then
            rm -f "$dir/watchdog.pid"
            exit 0
          fi
        done
        """;
}
