using Microsoft.Extensions.Logging;

namespace Deflake;

/// <summary>
/// One server an engine can collect orphans on, found without starting anything: the engine to collect with, or why it
/// cannot be reached. <paramref name="Where"/> says which server, never with a password.
/// </summary>
/// <param name="Engine">The engine kind: <c>postgres</c>, <c>mariadb</c>.</param>
/// <param name="Where">Which server, for the report: a setting and host, or the throwaway server's folder.</param>
/// <param name="Connect">Makes the engine that collects on it (not started); null when it cannot be reached.</param>
/// <param name="Unreachable">Why it cannot be reached, when <paramref name="Connect"/> is null.</param>
public sealed record OrphanServer(string Engine, string Where, Func<IDatabaseEngine>? Connect, string? Unreachable);

/// <summary>What collecting on one server did: the databases removed, or why it could not.</summary>
/// <param name="Engine">The engine kind.</param>
/// <param name="Where">Which server (no password).</param>
/// <param name="Removed">Databases removed; null when the server was not reached.</param>
/// <param name="Problem">Why it was not reached or collection failed; null when it worked.</param>
public sealed record OrphanCollectionOutcome(string Engine, string Where, int? Removed, string? Problem);

/// <summary>
/// The policy of <c>deflake gc</c> across server engines: every server an engine can reach without starting one (the
/// throwaway server when it runs, and the one its variable names when set) is collected on, each on its own, so one
/// server that cannot be reached never stops the others. The engines find the servers and collect; this decides and reports.
/// </summary>
public static class OrphanCollector
{
    /// <summary>Collects on every server in <paramref name="servers"/> and says, per server, what was removed or why not.</summary>
    /// <param name="servers">The servers the engines found.</param>
    /// <param name="keptRetention">Kept databases of failed tests older than this are removed too.</param>
    /// <param name="logger">Where the engines log what they remove; null: nowhere.</param>
    /// <param name="cancellationToken">Stops collecting.</param>
    public static async Task<IReadOnlyList<OrphanCollectionOutcome>> CollectAsync(IEnumerable<OrphanServer> servers, TimeSpan keptRetention,
        ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(servers);
        var outcomes = new List<OrphanCollectionOutcome>();
        foreach (var server in servers)
        {
            if (server.Connect is null)
            {
                outcomes.Add(new OrphanCollectionOutcome(server.Engine, server.Where, null, server.Unreachable ?? "not reachable"));
                continue;
            }

            try
            {
                var engine = server.Connect();
                await using (engine.ConfigureAwait(false))
                {
                    var context = new EngineContext(logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System, ChaosModes.None, 0);
                    await engine.StartAsync(context, cancellationToken).ConfigureAwait(false);
                    var removed = await engine.RemoveOrphansAsync(keptRetention, cancellationToken).ConfigureAwait(false);
                    outcomes.Add(new OrphanCollectionOutcome(server.Engine, server.Where, removed, null));
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                outcomes.Add(new OrphanCollectionOutcome(server.Engine, server.Where, null, FirstLine(ex.Message)));
            }
        }

        return outcomes;
    }

    private static string FirstLine(string text)
    {
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? text : text[..end]).TrimEnd('\r', '.');
    }
}
