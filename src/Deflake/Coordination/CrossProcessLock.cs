namespace Deflake.Coordination;

/// <summary>
/// A lock on a file, held by an open handle: exclusive across threads and processes on one machine (or shared, see
/// <see cref="TryAcquireShared"/>), and released by the operating system when the holding process dies (on Unix an
/// advisory <c>flock</c>).
/// </summary>
public sealed class CrossProcessLock : IDisposable, IAsyncDisposable
{
    private FileStream? _stream;

    private CrossProcessLock(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
    }

    /// <summary>The lock file.</summary>
    public string Path { get; }

    /// <summary>Takes the lock if it is free; null when another holder has it.</summary>
    public static CrossProcessLock? TryAcquire(string path) => TryOpen(path, shared: false);

    /// <summary>
    /// Takes the lock shared, if no one holds it exclusively: any number of shared holders, in any processes, exclude
    /// only exclusive ones (<see cref="TryAcquire"/>, <see cref="IsHeld"/> is true while any holds it). Null when an
    /// exclusive holder has it. The file is only read through this lock, never written (<see cref="WriteNote"/> throws).
    /// </summary>
    public static CrossProcessLock? TryAcquireShared(string path) => TryOpen(path, shared: true);

    private static CrossProcessLock? TryOpen(string path, bool shared)
    {
        var directory = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        try
        {
            // .NET locks what it opens: FileShare.None takes flock LOCK_EX, any other share LOCK_SH (on Windows the share
            // mode itself). Shared opens read only: .NET skips LOCK_SH for writers on network file systems.
            var stream = shared
                ? new FileStream(path, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None)
                : new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            return new CrossProcessLock(path, stream);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Creates the lock file at <paramref name="path"/> already held: it is made and locked under a private name,
    /// then renamed into place. Opening and locking a file are two steps, so a process that deletes lock files it
    /// finds free (collecting a dead owner's folder) could otherwise take a brand-new one in between; the rename is
    /// one step. Null when <paramref name="path"/> exists already.
    /// </summary>
    public static CrossProcessLock? TryCreateHeld(string path)
    {
        var staging = path + "." + Guid.NewGuid().ToString("N")[..12] + ".new";
        var held = TryAcquire(staging);
        if (held is null)
        {
            return null;
        }

        try
        {
            File.Move(staging, path, overwrite: false);
        }
        catch (IOException)
        {
            held.Dispose();
            File.Delete(staging);
            return null;
        }

        // Same handle, same lock: only the name it is known by changes.
        var stream = Interlocked.Exchange(ref held._stream, null)!;
        return new CrossProcessLock(path, stream);
    }

    /// <summary>Waits for the lock, polling with a short backoff, until <paramref name="timeout"/> or cancellation.</summary>
    /// <exception cref="TimeoutException">The lock was not free within <paramref name="timeout"/>.</exception>
    public static Task<CrossProcessLock> AcquireAsync(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
        => AcquireAsync(path, shared: false, timeout, cancellationToken);

    /// <summary>Waits for the lock shared (see <see cref="TryAcquireShared"/>), like <see cref="AcquireAsync(string, TimeSpan, CancellationToken)"/>.</summary>
    /// <exception cref="TimeoutException">An exclusive holder kept it for longer than <paramref name="timeout"/>.</exception>
    public static Task<CrossProcessLock> AcquireSharedAsync(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
        => AcquireAsync(path, shared: true, timeout, cancellationToken);

    private static async Task<CrossProcessLock> AcquireAsync(string path, bool shared, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = Environment.TickCount64;
        var delay = 1;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var acquired = TryOpen(path, shared);
            if (acquired is not null)
            {
                return acquired;
            }

            if (timeout != Timeout.InfiniteTimeSpan && Environment.TickCount64 - started > timeout.TotalMilliseconds)
            {
                throw new TimeoutException($"Deflake waited {timeout.TotalSeconds:0.#} s for the lock '{path}', held by another process.");
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = Math.Min(delay * 2, 50);
        }
    }

    /// <summary>Whether the lock at <paramref name="path"/> is held by someone (this process included).</summary>
    public static bool IsHeld(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        using var probe = TryAcquire(path);
        return probe is null;
    }

    /// <summary>Writes a short note into the lock file (who holds it), for error messages.</summary>
    /// <exception cref="InvalidOperationException">The lock is held shared.</exception>
    public void WriteNote(string note)
    {
        var stream = _stream ?? throw new ObjectDisposedException(nameof(CrossProcessLock));
        if (!stream.CanWrite)
        {
            throw new InvalidOperationException($"The lock '{Path}' is held shared; only an exclusive holder writes its note.");
        }

        stream.SetLength(0);
        var bytes = System.Text.Encoding.UTF8.GetBytes(note);
        stream.Write(bytes);
        stream.Flush();
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _stream, null)?.Dispose();
    }

    /// <summary>Releases the lock.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
