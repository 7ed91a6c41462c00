using System.Globalization;
using Deflake.Coordination;

namespace Deflake;

/// <summary>
/// This test process's worker id: a small number (<c>w0</c>, <c>w1</c>, ...) that no other live test process on
/// this machine holds at the same time, like <c>gw0</c> in pytest-xdist. Leases name it in their holder notes and
/// <see cref="UniqueValue"/> builds on it.
/// </summary>
/// <remarks>
/// The first use claims the lowest free slot: one <see cref="CrossProcessLock"/> file per slot under
/// <c>DeflakeEnvironment.GetRuntimeDirectory()/workers/</c>, held for the life of the process and released by the
/// operating system when it exits or dies. Slots are reused by later processes, so an index is unique among
/// processes that run at the same time, not across time. <c>DEFLAKE_WORKER</c> (a number, or <c>w</c> and a
/// number) overrides the claim; whoever sets it promises that concurrent processes get different values.
/// </remarks>
public static class DeflakeWorker
{
    /// <summary>
    /// The environment variable that sets the worker index instead of claiming a slot: <c>3</c> or <c>w3</c>.
    /// </summary>
    public const string EnvironmentVariable = "DEFLAKE_WORKER";

    /// <summary>The highest slot a process may claim; more concurrent test processes than this is a leak.</summary>
    public const int MaxWorkers = 4096;

    private static readonly Lazy<int> LazyIndex = new(Claim, LazyThreadSafetyMode.ExecutionAndPublication);
    private static CrossProcessLock? _slot;

    /// <summary>This process's worker index, from 0.</summary>
    /// <exception cref="DeflakeConfigurationException"><c>DEFLAKE_WORKER</c> is not a worker index.</exception>
    public static int Index => LazyIndex.Value;

    /// <summary>This process's worker id: <c>w</c> and <see cref="Index"/>, such as <c>w0</c>.</summary>
    public static string Id => "w" + Index.ToString(CultureInfo.InvariantCulture);

    /// <summary>Whether the index came from <c>DEFLAKE_WORKER</c> rather than a claimed slot.</summary>
    public static bool IsFromEnvironment => !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>Parses a worker index as <c>DEFLAKE_WORKER</c> states it: <c>3</c> or <c>w3</c>.</summary>
    /// <exception cref="DeflakeConfigurationException">The text is not a worker index.</exception>
    public static int ParseIndex(string text, string setting = EnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var digits = trimmed.StartsWith('w') || trimmed.StartsWith('W') ? trimmed[1..] : trimmed;
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit)
            || !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index >= MaxWorkers)
        {
            throw new DeflakeConfigurationException(setting,
                $"'{text}' is not a worker index; use a number from 0 to {MaxWorkers - 1} such as 3 or w3, or unset it to claim a free slot.");
        }

        return index;
    }

    /// <summary>The directory of the worker slot lock files.</summary>
    internal static string SlotDirectory => Path.Combine(DeflakeEnvironment.GetRuntimeDirectory(), "workers");

    private static int Claim()
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return ParseIndex(configured);
        }

        var directory = Internal.SettingFolders.CreateWritable(SlotDirectory, DeflakeEnvironment.RuntimeDirectory);
        for (var index = 0; index < MaxWorkers; index++)
        {
            var slot = CrossProcessLock.TryAcquire(Path.Combine(directory, index.ToString(CultureInfo.InvariantCulture) + ".lock"));
            if (slot is null)
            {
                continue;
            }

            slot.WriteNote($"pid {ProcessIdentity.ProcessId} on {ProcessIdentity.MachineName}, token {ProcessIdentity.Token}");
            _slot = slot; // held until the process ends; never disposed
            GC.KeepAlive(_slot);
            return index;
        }

        throw new DeflakeConfigurationException(EnvironmentVariable,
            $"all {MaxWorkers} worker slots under '{directory}' are taken by live processes; set DEFLAKE_WORKER or stop the stray test processes.");
    }
}
