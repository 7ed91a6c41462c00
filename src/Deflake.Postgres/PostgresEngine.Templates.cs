using Deflake.Coordination;
using Deflake.Postgres.Internal;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Deflake.Postgres;

/// <summary>
/// Templates on PostgreSQL: one per schema fingerprint, built once across processes under the fingerprint's advisory
/// lock (in a build database renamed into place when done), with the template's chaos and recycling installed, and held
/// shared by every engine that uses it.
/// </summary>
public sealed partial class PostgresEngine
{
    /// <inheritdoc />
    public async Task<EngineTemplate> EnsureTemplateAsync(TemplateRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Fingerprint.Length is 0 or > 40 || !request.Fingerprint.All(char.IsAsciiHexDigitLower))
        {
            throw new ArgumentException($"Fingerprint '{request.Fingerprint}' is not 1-40 lower-case hex digits.", nameof(request));
        }

        var name = TemplatePrefix + request.Fingerprint;

        // A dedicated, non-pooled session: a pooled connection's reset (DISCARD ALL) would drop the lock mid-build.
        var gate = await OpenDedicatedAsync(Admin.Database!, "deflake template lock", cancellationToken).ConfigureAwait(false);
        await using (gate.ConfigureAwait(false))
        {
            await ExecuteAsync(gate, $"set lock_timeout = {(long)_options.TemplateWaitTimeout.TotalMilliseconds}", cancellationToken).ConfigureAwait(false);
            try
            {
                await ScalarAsync<object>(gate, "select pg_advisory_lock(@key)", TemplateLockKey(request.Fingerprint), cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState == LockNotAvailable)
            {
                throw new TimeoutException(
                    $"Deflake waited {_options.TemplateWaitTimeout.TotalMinutes:0.#} min for another process building template {name} (PostgresEngineOptions.TemplateWaitTimeout).", ex);
            }

            // Re-check under the lock: whoever held it may just have built the template.
            var existing = await ReadDatabaseAsync(gate, name, cancellationToken).ConfigureAwait(false);
            if (existing is { } found)
            {
                if (!found.IsTemplate || found.Marker is not { Kind: "template" } marker)
                {
                    throw new InvalidOperationException(
                        $"Database {name} exists but is not a Deflake template (no marker or not a template); Deflake will not touch it. Drop or rename it yourself.");
                }

                // Under the build lock, so superseded-template collection (which takes it) sees this use.
                await HoldUseLockAsync(request.Fingerprint, cancellationToken).ConfigureAwait(false);

                // "Most recently used" decides which superseded templates stay, so keep it fresh (a comment is cheap).
                var now = _time.GetUtcNow();
                if (now - (marker.LastUsed ?? marker.Created) > TimeSpan.FromMinutes(1))
                {
                    await SetMarkerAsync(gate, name, marker with { LastUsed = now }, cancellationToken).ConfigureAwait(false);
                }

                // Recorded by the build: the template itself takes no connections.
                return new EngineTemplate(name, request.Fingerprint, WasBuilt: false) { IdentitiesNotCovered = marker.NotCovered ?? [] };
            }

            var notCovered = await BuildTemplateAsync(gate, name, request, cancellationToken).ConfigureAwait(false);
            await HoldUseLockAsync(request.Fingerprint, cancellationToken).ConfigureAwait(false);
            return new EngineTemplate(name, request.Fingerprint, WasBuilt: true) { IdentitiesNotCovered = notCovered };
        }
    }

    /// <summary>
    /// Marks the template as used by this engine until it is disposed: a shared advisory lock on the template's use key
    /// (not its build key), on the owner session. Every live engine using it holds one; a process that dies releases
    /// its locks with its sessions, so a crash never pins a template.
    /// </summary>
    private async Task HoldUseLockAsync(string fingerprint, CancellationToken cancellationToken)
    {
        var owner = _ownerConnection ?? throw new InvalidOperationException("The PostgreSQL engine has not been started.");
        await _ownerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ScalarAsync<object>(owner, "select pg_advisory_lock_shared(@key)", TemplateUseKey(fingerprint), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _ownerGate.Release();
        }
    }

    private async Task<IReadOnlyList<NotCoveredKey>> BuildTemplateAsync(NpgsqlConnection admin, string name, TemplateRequest request, CancellationToken cancellationToken)
    {
        IReadOnlyList<NotCoveredKey> notCovered;
        var build = $"{BuildPrefix}{request.Fingerprint}_{ProcessIdentity.Token}";
        var started = _time.GetTimestamp();
        var marker = NewMarker("build", request.Fingerprint);
        var leftover = await ReadDatabaseAsync(admin, build, cancellationToken).ConfigureAwait(false);
        if (leftover is { Marker.Owner: var leftoverOwner } && leftoverOwner == ProcessIdentity.Token)
        {
            await DropDatabaseAsync(admin, build, leftover.Value.IsTemplate, cancellationToken).ConfigureAwait(false);
        }

        await RecordIntentAsync(build, cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(admin, $"create database {Quote.Identifier(build)} template template0", cancellationToken).ConfigureAwait(false);
        try
        {
            await SetMarkerAsync(admin, build, marker, cancellationToken).ConfigureAwait(false);
            var connection = await OpenDedicatedAsync(build, "deflake template build", cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                try
                {
                    await request.Schema.ApplyAsync(connection, cancellationToken).ConfigureAwait(false);
                }
                catch (TemplateBuildException ex) when (ex.Line is null)
                {
                    throw Internal.MigrationErrors.Locate(ex);
                }

                notCovered = await ApplyTemplateChaosAsync(connection, request, cancellationToken).ConfigureAwait(false);
                await Recycling.PostgresRecycling.InstallAsync(connection, request.Chaos.HasFlag(ChaosModes.Rows), _logger, cancellationToken).ConfigureAwait(false);
            }

            // Seal, then publish by renaming: a template name only ever refers to a finished template.
            await ExecuteAsync(admin, $"alter database {Quote.Identifier(build)} with is_template true allow_connections false", cancellationToken).ConfigureAwait(false);
            await SetMarkerAsync(admin, build, marker with { Kind = "template" }, cancellationToken).ConfigureAwait(false);
            await RetryWhileInUseAsync(() => ExecuteAsync(admin, $"alter database {Quote.Identifier(build)} rename to {Quote.Identifier(name)}", cancellationToken),
                cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            try
            {
                await DropDatabaseAsync(admin, build, isTemplate: true, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception dropError) when (dropError is NpgsqlException or IOException)
            {
                _logger.LogWarning(dropError, "Deflake could not drop the failed template build {Name}; orphan collection will", build);
            }

            throw;
        }

        var now = _time.GetUtcNow();
        await SetMarkerAsync(admin, name, marker with
        {
            Kind = "template", Owner = null, ProcessId = null, LastUsed = now, Lineage = request.Lineage, NotCovered = notCovered.Count > 0 ? notCovered : null,
        }, cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("Deflake built PostgreSQL template {Name} from {Schema} in {Elapsed:0} ms",
            name, request.Schema.Name, _time.GetElapsedTime(started).TotalMilliseconds);
        return notCovered;
    }

    /// <summary>
    /// Hook point: chaos that lives in the template (identity ranges) is applied here, on the build connection,
    /// after the schema and before the template is sealed (see <c>Chaos/PostgresChaos.cs</c>).
    /// </summary>
    private Task<IReadOnlyList<NotCoveredKey>> ApplyTemplateChaosAsync(NpgsqlConnection connection, TemplateRequest request, CancellationToken cancellationToken)
        => Chaos.PostgresTemplateChaos.ApplyAsync(connection, request, _logger, cancellationToken);
}
