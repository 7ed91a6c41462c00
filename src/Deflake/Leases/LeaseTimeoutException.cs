namespace Deflake;

/// <summary>
/// Thrown by <see cref="Leases.AcquireAsync"/> when no candidate became free within the timeout. The message is one
/// line that names the resource, the backend, every candidate and who holds it.
/// </summary>
public sealed class LeaseTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    public LeaseTimeoutException(string resource, string backend, IReadOnlyList<string> candidates, IReadOnlyList<string?> holders, TimeSpan timeout)
        : base(Describe(resource, backend, candidates, holders, timeout))
    {
        Resource = resource;
        Candidates = candidates;
        Holders = holders;
        Timeout = timeout;
    }

    /// <summary>The resource asked for.</summary>
    public string Resource { get; }

    /// <summary>The candidates asked for.</summary>
    public IReadOnlyList<string> Candidates { get; }

    /// <summary>Who held each candidate when the wait ended (null: free by then, or unknown).</summary>
    public IReadOnlyList<string?> Holders { get; }

    /// <summary>How long the caller waited.</summary>
    public TimeSpan Timeout { get; }

    private static string Describe(string resource, string backend, IReadOnlyList<string> candidates, IReadOnlyList<string?> holders, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(holders);
        var parts = new List<string>(candidates.Count);
        for (var i = 0; i < candidates.Count; i++)
        {
            var holder = i < holders.Count ? holders[i] : null;
            parts.Add(holder is null
                ? $"'{candidates[i]}' (free by now, or holder unknown)"
                : $"'{candidates[i]}' held by {LeaseNames.OneLine(holder, 300)}");
        }

        return $"Deflake waited {timeout.TotalSeconds:0.###} s for a lease on '{resource}' ({backend}) and none of its " +
               $"{candidates.Count} candidate(s) came free: {string.Join("; ", parts)}. Raise the timeout, add candidates, or find the holder that does not release.";
    }
}
