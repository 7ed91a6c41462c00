using System.Globalization;
using Deflake.Coordination;

namespace Deflake;

/// <summary>
/// Leases as lock files on this machine. Layout under the root directory, names made file-safe by
/// <see cref="LeaseNames.FileSafe"/>:
/// <c>RESOURCE/CANDIDATE.lock</c> (a <see cref="CrossProcessLock"/> held by the lease),
/// <c>RESOURCE/CANDIDATE.holder</c> (who holds or last held it, for timeout errors),
/// <c>RESOURCE/queue-SETHASH/TICKS-TOKEN-SEQ.ticket</c> (one locked file per waiter; the oldest live ticket is first in line).
/// </summary>
internal sealed class LocalLeaseBackend : ILeaseBackend
{
    private static TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, FileSystemWatcher?> Watchers = new(StringComparer.Ordinal);
    private static readonly Lock WatchersLock = new();
    private const int NoteSize = 1024;
    private static long _ticketSequence;
    private readonly string _root;
    private readonly LeaseOptions _options;

    public LocalLeaseBackend(string root, LeaseOptions options)
    {
        _root = root;
        _options = options;
    }

    public string Kind => "local";

    public ValueTask<ILeaseHandle?> TryAcquireAsync(LeaseRequest request, bool hasTurn, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var directory = ResourceDirectory(request);
        if (!hasTurn && HasWaiters(QueueDirectory(request)))
        {
            return ValueTask.FromResult<ILeaseHandle?>(null);
        }

        for (var i = 0; i < request.Candidates.Count; i++)
        {
            var stem = Path.Combine(directory, LeaseNames.FileSafe(request.Candidates[i]));
            var held = CrossProcessLock.TryAcquire(stem + ".lock");
            if (held is null)
            {
                continue;
            }

            WriteNote(stem + ".holder", request.Holder.ToString());
            return ValueTask.FromResult<ILeaseHandle?>(new Handle(i, held));
        }

        return ValueTask.FromResult<ILeaseHandle?>(null);
    }

    public async ValueTask<IAsyncDisposable?> WaitForTurnAsync(LeaseRequest request, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = _options.TimeProvider;
        var started = clock.GetTimestamp();
        var ticket = Ticket.Take(QueueDirectory(request), clock);
        try
        {
            var pause = TimeSpan.FromMilliseconds(1);
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (ticket.IsFirst())
                {
                    return ticket;
                }

                var remaining = timeout - clock.GetElapsedTime(started);
                if (remaining <= TimeSpan.Zero)
                {
                    await ticket.DisposeAsync().ConfigureAwait(false);
                    return null;
                }

                await WaitForReleaseAsync(request, remaining < pause ? remaining : pause, cancellationToken).ConfigureAwait(false);
                pause = Leases.NextPause(pause, _options.MaxPollInterval);
            }
        }
        catch
        {
            await ticket.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask WaitForReleaseAsync(LeaseRequest request, TimeSpan maxDelay, CancellationToken cancellationToken = default)
    {
        var released = Volatile.Read(ref _released).Task;
        WatchForReleases(ResourceDirectory(request));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(maxDelay, _options.TimeProvider, stop.Token);
        await Task.WhenAny(released, delay).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    public ValueTask<IReadOnlyList<string?>> DescribeHoldersAsync(LeaseRequest request, CancellationToken cancellationToken = default)
    {
        var directory = ResourceDirectory(request);
        var holders = new string?[request.Candidates.Count];
        for (var i = 0; i < holders.Length; i++)
        {
            var stem = Path.Combine(directory, LeaseNames.FileSafe(request.Candidates[i]));
            if (!CrossProcessLock.IsHeld(stem + ".lock"))
            {
                continue;
            }

            try
            {
                holders[i] = File.ReadAllText(stem + ".holder").Trim();
            }
            catch (IOException)
            {
                holders[i] = "a holder that left no note";
            }
            catch (UnauthorizedAccessException)
            {
                holders[i] = "a holder whose note is unreadable";
            }
        }

        return ValueTask.FromResult<IReadOnlyList<string?>>(holders);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Wakes this process's waiters at once; other processes' waiters notice at their next poll.</summary>
    private static void SignalRelease() =>
        Interlocked.Exchange(ref _released, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>
    /// Wakes this process's waiters when another process releases a lease or leaves a queue of this resource: both
    /// delete a file in its directory, which inotify reports within a millisecond. Without a watcher (limits, other
    /// file systems) waiters still poll.
    /// </summary>
    private static void WatchForReleases(string resourceDirectory)
    {
        if (Watchers.ContainsKey(resourceDirectory))
        {
            return;
        }

        lock (WatchersLock)
        {
            if (Watchers.ContainsKey(resourceDirectory))
            {
                return;
            }

            FileSystemWatcher? watcher = null;
            try
            {
                Directory.CreateDirectory(resourceDirectory);
                watcher = new FileSystemWatcher(resourceDirectory)
                {
                    IncludeSubdirectories = true,
                    NotifyFilter = NotifyFilters.FileName,
                };
                watcher.Deleted += (_, _) => SignalRelease();
                watcher.EnableRaisingEvents = true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException or ArgumentException)
            {
                watcher?.Dispose();
                watcher = null;
            }

            Watchers[resourceDirectory] = watcher; // kept for the process's life; null: poll only
        }
    }

    private string ResourceDirectory(LeaseRequest request) => Path.Combine(_root, LeaseNames.FileSafe(request.Resource));

    private string QueueDirectory(LeaseRequest request) =>
        Path.Combine(ResourceDirectory(request), "queue-" + request.CandidateSetHash);

    private static bool HasWaiters(string queueDirectory)
    {
        try
        {
            return Directory.Exists(queueDirectory) && Directory.EnumerateFiles(queueDirectory, "*.ticket").Any();
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// Overwrites the holder note in place, padded to a fixed size: truncating or deleting a file frees its blocks,
    /// which costs milliseconds on some file systems. The note is read only while the lock is held, so a stale one
    /// of an earlier holder is never shown for long.
    /// </summary>
    private static void WriteNote(string path, string note)
    {
        var bytes = new byte[NoteSize];
        bytes.AsSpan().Fill((byte)' ');
        System.Text.Encoding.UTF8.GetBytes(LeaseNames.OneLine(note, (NoteSize / 4) - 1), bytes);
        bytes[^1] = (byte)'\n';
        try
        {
            using var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.None);
            stream.Write(bytes);
        }
        catch (IOException)
        {
            // The note only feeds error messages; the lock is what counts.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed class Handle(int index, CrossProcessLock held) : ILeaseHandle
    {
        public int Index => index;

        public ValueTask DisposeAsync()
        {
            held.Dispose();
            SignalRelease();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// A waiter's place in line: a file locked before it becomes visible (created under a temporary name, locked,
    /// then renamed), deleted before it is unlocked. A visible ticket that can be locked belongs to a dead waiter.
    /// </summary>
    private sealed class Ticket : IAsyncDisposable
    {
        private readonly string _directory;
        private readonly string _name;
        private FileStream? _stream;

        private Ticket(string directory, string name, FileStream stream)
        {
            _directory = directory;
            _name = name;
            _stream = stream;
        }

        public static Ticket Take(string directory, TimeProvider clock)
        {
            Directory.CreateDirectory(directory);
            var sequence = Interlocked.Increment(ref _ticketSequence);
            var temporary = Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $".{ProcessIdentity.Token}-{sequence}.tmp"));
            var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            try
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"{clock.GetUtcNow().UtcTicks:D19}-{ProcessIdentity.Token}-{sequence:D8}.ticket");
                File.Move(temporary, Path.Combine(directory, name));
                return new Ticket(directory, name, stream);
            }
            catch
            {
                stream.Dispose();
                TryDelete(temporary);
                throw;
            }
        }

        /// <summary>Whether no live ticket is older than this one; removes the tickets of dead waiters on the way.</summary>
        public bool IsFirst()
        {
            foreach (var path in Directory.EnumerateFiles(_directory, "*.ticket"))
            {
                if (string.CompareOrdinal(Path.GetFileName(path), _name) >= 0)
                {
                    continue;
                }

                try
                {
                    using var orphan = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
                    TryDelete(path); // its waiter died: we hold its lock now, so it is safe to remove
                }
                catch (FileNotFoundException)
                {
                }
                catch (DirectoryNotFoundException)
                {
                }
                catch (IOException)
                {
                    return false; // locked: a live waiter is ahead
                }
                catch (UnauthorizedAccessException)
                {
                    return false;
                }
            }

            return true;
        }

        public ValueTask DisposeAsync()
        {
            var stream = Interlocked.Exchange(ref _stream, null);
            if (stream is not null)
            {
                TryDelete(Path.Combine(_directory, _name));
                stream.Dispose();
                SignalRelease();
            }

            return ValueTask.CompletedTask;
        }
    }
}
