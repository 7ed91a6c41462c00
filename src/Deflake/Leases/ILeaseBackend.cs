namespace Deflake;

/// <summary>
/// Where leases live: the local machine's lock files (<see cref="Leases.Local"/>) or a shared server such as
/// PostgreSQL. <see cref="Leases"/> validates requests, runs the waiting loop and builds the errors; a backend only
/// takes, queues and describes. Implementations must make a taken candidate exclusive until its handle is disposed
/// or the holding process dies.
/// </summary>
public interface ILeaseBackend : IAsyncDisposable
{
    /// <summary>The backend's kind for messages: <c>local</c>, <c>postgres</c>.</summary>
    string Kind { get; }

    /// <summary>
    /// Tries each candidate once, in order, and takes the first free one; null when all are held, or when
    /// <paramref name="hasTurn"/> is false and others are already queued for this request's candidates.
    /// </summary>
    /// <param name="request">What to take and who takes it.</param>
    /// <param name="hasTurn">Whether the caller holds the turn from <see cref="WaitForTurnAsync"/>.</param>
    /// <param name="cancellationToken">Stops the attempt.</param>
    ValueTask<ILeaseHandle?> TryAcquireAsync(LeaseRequest request, bool hasTurn, CancellationToken cancellationToken = default);

    /// <summary>
    /// Joins the queue of waiters for this request's resource and candidates and returns once the caller is first
    /// in line: the turn, to dispose once the caller has its lease or gives up. Null when
    /// <paramref name="timeout"/> passes first.
    /// </summary>
    ValueTask<IAsyncDisposable?> WaitForTurnAsync(LeaseRequest request, TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Waits until a lease of this request may have been released, at most <paramref name="maxDelay"/>.</summary>
    ValueTask WaitForReleaseAsync(LeaseRequest request, TimeSpan maxDelay, CancellationToken cancellationToken = default);

    /// <summary>Who holds each candidate, in the request's order; null where a candidate is free or unknown.</summary>
    ValueTask<IReadOnlyList<string?>> DescribeHoldersAsync(LeaseRequest request, CancellationToken cancellationToken = default);
}

/// <summary>A candidate taken by an <see cref="ILeaseBackend"/>; disposing it releases the candidate.</summary>
public interface ILeaseHandle : IAsyncDisposable
{
    /// <summary>The position of the taken candidate in <see cref="LeaseRequest.Candidates"/>.</summary>
    int Index { get; }
}

/// <summary>One validated request for a lease, as a backend sees it.</summary>
public sealed class LeaseRequest
{
    private string? _candidateSetHash;

    internal LeaseRequest(string resource, IReadOnlyList<string> candidates, LeaseHolder holder)
    {
        Resource = resource;
        Candidates = candidates;
        Holder = holder;
    }

    /// <summary>The resource's name, such as <c>accounts</c>; validated.</summary>
    public string Resource { get; }

    /// <summary>The candidates in the order to try them; validated, distinct, non-empty.</summary>
    public IReadOnlyList<string> Candidates { get; }

    /// <summary>Who asks.</summary>
    public LeaseHolder Holder { get; }

    /// <summary>
    /// Twelve hex characters naming the set of candidates whatever their order, the same on every machine:
    /// backends key their waiting queues on the resource and this.
    /// </summary>
    public string CandidateSetHash => _candidateSetHash ??= LeaseNames.CandidateSetHash(Candidates);
}
