namespace Deflake;

/// <summary>
/// One candidate of a resource, held by the caller alone until disposed (or until its process dies).
/// Use with <c>await using</c>.
/// </summary>
public sealed class Lease : IAsyncDisposable
{
    private ILeaseHandle? _handle;

    internal Lease(LeaseRequest request, ILeaseHandle handle)
    {
        _handle = handle;
        Resource = request.Resource;
        Index = handle.Index;
        Value = request.Candidates[handle.Index];
        Holder = request.Holder;
    }

    /// <summary>The resource, such as <c>accounts</c>.</summary>
    public string Resource { get; }

    /// <summary>The candidate this lease holds, such as an account name.</summary>
    public string Value { get; }

    /// <summary>The position of <see cref="Value"/> in the candidates passed to <see cref="Leases.AcquireAsync"/>.</summary>
    public int Index { get; }

    /// <summary>Who holds it: this process, worker and test.</summary>
    public LeaseHolder Holder { get; }

    /// <summary>Whether the lease is still held by this object.</summary>
    public bool IsHeld => Volatile.Read(ref _handle) is not null;

    /// <summary>Releases the lease; later calls do nothing.</summary>
    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _handle, null)?.DisposeAsync() ?? ValueTask.CompletedTask;

    /// <summary><c>accounts/alice</c>.</summary>
    public override string ToString() => $"{Resource}/{Value}";
}
