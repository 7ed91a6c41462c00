using Deflake.Coordination;

namespace Deflake;

/// <summary>
/// Hands out one of a few shared resources (pre-provisioned accounts, a licence, a device) to one test at a time,
/// across threads, processes and, with a server backend, machines. A lease is released when disposed, and by the
/// operating system or server when its process dies.
/// </summary>
/// <remarks>
/// <para>Waiting is bounded by the timeout and first-come first-served: a request that finds every candidate held
/// joins a queue (per resource and candidate set), and only the first in the queue takes the next released
/// candidate; new requests do not overtake a queue that has waiters. Requests for different candidate sets of one
/// resource queue separately and may overtake each other.</para>
/// <para>Prefer fresh data per test when you can create it (see <see cref="UniqueValue"/>); lease what is truly
/// limited.</para>
/// </remarks>
/// <example>
/// <code>
/// await using var leases = Leases.Local();
/// await using var lease = await leases.AcquireAsync("accounts", ["alice", "bob", "carol"], TimeSpan.FromSeconds(30));
/// LogIn(lease.Value);
/// </code>
/// </example>
public sealed class Leases : IAsyncDisposable
{
    /// <summary>The longest resource or candidate name, in characters.</summary>
    public const int MaxNameLength = 200;

    private readonly ILeaseBackend _backend;
    private readonly LeaseOptions _options;

    /// <summary>Leases on <paramref name="backend"/>, which this instance then owns and disposes.</summary>
    /// <exception cref="DeflakeConfigurationException">An option is out of range.</exception>
    public Leases(ILeaseBackend backend, LeaseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        _backend = backend;
        _options = (options ?? new LeaseOptions()).Validate();
    }

    /// <summary>The backend's kind: <c>local</c>, <c>postgres</c>.</summary>
    public string Kind => _backend.Kind;

    /// <summary>
    /// Leases on this machine, needing no server: one lock file per candidate under the runtime directory, exclusive
    /// across threads and processes, freed by the operating system when the holder dies.
    /// </summary>
    /// <exception cref="DeflakeConfigurationException">An option is out of range.</exception>
    public static Leases Local(LeaseOptions? options = null)
    {
        var validated = (options ?? new LeaseOptions()).Validate();
        var directory = validated.Directory is null
            ? Path.Combine(DeflakeEnvironment.GetRuntimeDirectory(), "leases")
            : Path.GetFullPath(validated.Directory);
        // Made and proved writable now: later, a lock file that cannot be made reads as one held, and would end in a timeout.
        Internal.SettingFolders.CreateWritable(directory, validated.Directory is null ? DeflakeEnvironment.RuntimeDirectory : "LeaseOptions.Directory");
        return new Leases(new LocalLeaseBackend(directory, validated), validated);
    }

    /// <summary>
    /// Takes one of <paramref name="candidates"/> of <paramref name="resource"/> for the caller alone, waiting at most
    /// <paramref name="timeout"/> for one to come free. Dispose the lease to release it.
    /// </summary>
    /// <param name="resource">What the candidates are, such as <c>accounts</c>: one queue and namespace per resource.</param>
    /// <param name="candidates">The interchangeable instances, such as account names; tried in order.</param>
    /// <param name="timeout">How long to wait at most; positive.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="ArgumentException">The resource or a candidate is null, empty, whitespace, too long, has a control
    /// character, or is repeated; or there are no candidates.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is not positive or too long.</exception>
    /// <exception cref="LeaseTimeoutException">No candidate came free within <paramref name="timeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async ValueTask<Lease> AcquireAsync(string resource, IEnumerable<string> candidates, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var request = CreateRequest(resource, candidates, timeout);
        cancellationToken.ThrowIfCancellationRequested();
        var clock = _options.TimeProvider;
        var started = clock.GetTimestamp();

        var handle = await _backend.TryAcquireAsync(request, hasTurn: false, cancellationToken).ConfigureAwait(false);
        if (handle is not null)
        {
            return new Lease(request, handle);
        }

        var turn = await _backend.WaitForTurnAsync(request, timeout, cancellationToken).ConfigureAwait(false);
        if (turn is null)
        {
            throw await TimeoutAsync(request, timeout, cancellationToken).ConfigureAwait(false);
        }

        await using (turn.ConfigureAwait(false))
        {
            var pause = TimeSpan.FromMilliseconds(1);
            while (true)
            {
                handle = await _backend.TryAcquireAsync(request, hasTurn: true, cancellationToken).ConfigureAwait(false);
                if (handle is not null)
                {
                    return new Lease(request, handle);
                }

                var remaining = timeout - clock.GetElapsedTime(started);
                if (remaining <= TimeSpan.Zero)
                {
                    throw await TimeoutAsync(request, timeout, cancellationToken).ConfigureAwait(false);
                }

                await _backend.WaitForReleaseAsync(request, remaining < pause ? remaining : pause, cancellationToken).ConfigureAwait(false);
                pause = NextPause(pause, _options.MaxPollInterval);
            }
        }
    }

    /// <summary>Disposes the backend (a server backend closes its idle connections). Leases still held stay valid.</summary>
    public ValueTask DisposeAsync() => _backend.DisposeAsync();

    internal LeaseRequest CreateRequest(string resource, IEnumerable<string> candidates, TimeSpan timeout)
    {
        LeaseNames.Validate(resource, nameof(resource));
        if (candidates is null)
        {
            throw new ArgumentNullException(nameof(candidates), $"candidates: is null; pass the names of the '{resource}' to share, such as account names.");
        }

        var list = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var candidate in candidates)
        {
            LeaseNames.Validate(candidate, nameof(candidates));
            if (!seen.Add(candidate))
            {
                throw new ArgumentException($"candidates: '{LeaseNames.OneLine(candidate, 60)}' is listed twice for '{resource}'; list each candidate once.", nameof(candidates));
            }

            list.Add(candidate);
        }

        if (list.Count == 0)
        {
            throw new ArgumentException($"candidates: the list for '{resource}' is empty; pass at least one candidate.", nameof(candidates));
        }

        if (timeout <= TimeSpan.Zero || timeout.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout,
                $"timeout: {timeout} is not a usable wait for '{resource}'; use a positive span of at most 24 days, such as 30 seconds.");
        }

        var holder = new LeaseHolder(DeflakeWorker.Id, ProcessIdentity.ProcessId, ProcessIdentity.MachineName,
            _options.TestName?.Invoke(), _options.TimeProvider.GetUtcNow());
        return new LeaseRequest(resource, list, holder);
    }

    /// <summary>Doubles the pause between attempts, from 1 ms up to <paramref name="max"/>.</summary>
    internal static TimeSpan NextPause(TimeSpan pause, TimeSpan max) => pause * 2 < max ? pause * 2 : max;

    private async ValueTask<LeaseTimeoutException> TimeoutAsync(LeaseRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        IReadOnlyList<string?> holders;
        try
        {
            holders = await _backend.DescribeHoldersAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            holders = [.. request.Candidates.Select(_ => $"(unknown: {LeaseNames.OneLine(ex.Message, 120)})")];
        }

        return new LeaseTimeoutException(request.Resource, _backend.Kind, request.Candidates, holders, timeout);
    }
}
