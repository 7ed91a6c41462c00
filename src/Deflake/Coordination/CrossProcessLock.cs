namespace Deflake.Coordination;

/// <summary>
/// An exclusive lock on a file, held by an open handle: exclusive across threads and processes on one machine,
/// and released by the operating system when the holding process dies (on Unix an advisory <c>flock</c>).
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
    public static CrossProcessLock? TryAcquire(string path)
    {
        var directory = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
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

    /// <summary>Waits for the lock, polling with a short backoff, until <paramref name="timeout"/> or cancellation.</summary>
    /// <exception cref="TimeoutException">The lock was not free within <paramref name="timeout"/>.</exception>
    public static async Task<CrossProcessLock> AcquireAsync(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var started = Environment.TickCount64;
        var delay = 1;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var acquired = TryAcquire(path);
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
    public void WriteNote(string note)
    {
        var stream = _stream ?? throw new ObjectDisposedException(nameof(CrossProcessLock));
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
