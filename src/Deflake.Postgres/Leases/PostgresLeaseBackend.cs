using System.Collections.Concurrent;
using System.Globalization;
using Deflake.Coordination;
using Npgsql;
using NpgsqlTypes;

namespace Deflake;

/// <summary>
/// Leases as session advisory locks. One lock key per (resource, candidate); waiters at the head of a queue hold an
/// exclusive lock on the queue key (PostgreSQL grants blocked lock requests in arrival order), and newcomers check
/// that key with a shared try-lock so they do not overtake waiters. Every lock lives on a dedicated connection, so
/// it ends with the connection.
/// </summary>
internal sealed class PostgresLeaseBackend : ILeaseBackend
{
    private const int MaxIdleConnections = 8;

    // The gate is a shared try-lock on the queue key: it fails while a waiter holds or waits for it exclusively.
    // The candidate scan stops at the first lock taken (LIMIT 1 pulls rows one at a time).
    private const string FirstComeSql = """
        WITH gate AS MATERIALIZED (SELECT pg_try_advisory_lock_shared($1) AS open),
        pick AS MATERIALIZED (
            SELECT t.i FROM gate, unnest($2::bigint[]) WITH ORDINALITY AS t(k, i)
            WHERE gate.open AND pg_try_advisory_lock(t.k) LIMIT 1)
        SELECT (SELECT i FROM pick),
               (SELECT pg_advisory_unlock_shared($1) FROM gate WHERE gate.open),
               set_config('application_name', $3, false)
        """;

    private const string HasTurnSql = """
        SELECT (SELECT t.i FROM unnest($2::bigint[]) WITH ORDINALITY AS t(k, i) WHERE pg_try_advisory_lock(t.k) LIMIT 1),
               $1::bigint,
               set_config('application_name', $3, false)
        """;

    private const string HoldersSql = """
        SELECT k.i, a.application_name, coalesce(a.client_hostname, host(a.client_addr), 'local socket'), a.pid, a.backend_start
        FROM unnest($1::bigint[]) WITH ORDINALITY AS k(key, i)
        JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid = ((k.key >> 32) & 4294967295)::oid AND l.objid = (k.key & 4294967295)::oid
        LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        """;

    private readonly string _connectionString;
    private readonly LeaseOptions _options;
    private readonly ConcurrentBag<NpgsqlConnection> _idle = [];
    private int _disposed;

    public PostgresLeaseBackend(NpgsqlConnectionStringBuilder connectionString, LeaseOptions options)
    {
        _connectionString = connectionString.ConnectionString;
        _options = options;
    }

    public string Kind => "postgres";

    public async ValueTask<ILeaseHandle?> TryAcquireAsync(LeaseRequest request, bool hasTurn, CancellationToken cancellationToken = default)
    {
        var connection = await RentAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var command = new NpgsqlCommand(hasTurn ? HasTurnSql : FirstComeSql, connection);
            command.Parameters.Add(new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint, TypedValue = QueueKey(request) });
            command.Parameters.Add(new NpgsqlParameter<long[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint, TypedValue = CandidateKeys(request) });
            command.Parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = request.Holder.ToShortString() });
            var picked = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            if (picked is long ordinal)
            {
                return new Handle(this, connection, (int)ordinal - 1);
            }

            Return(connection);
            return null;
        }
        catch
        {
            // A cancelled or failed statement may or may not have taken a lock: closing the connection settles it.
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask<IAsyncDisposable?> WaitForTurnAsync(LeaseRequest request, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var connection = await RentAsync(cancellationToken).ConfigureAwait(false);
        using var deadline = new CancellationTokenSource(timeout, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            using var command = new NpgsqlCommand("SELECT pg_advisory_lock($1)", connection) { CommandTimeout = 0 };
            command.Parameters.Add(new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint, TypedValue = QueueKey(request) });
            await command.ExecuteNonQueryAsync(linked.Token).ConfigureAwait(false);
            return new Turn(this, connection);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            return null;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask WaitForReleaseAsync(LeaseRequest request, TimeSpan maxDelay, CancellationToken cancellationToken = default) =>
        await Task.Delay(maxDelay, _options.TimeProvider, cancellationToken).ConfigureAwait(false);

    public async ValueTask<IReadOnlyList<string?>> DescribeHoldersAsync(LeaseRequest request, CancellationToken cancellationToken = default)
    {
        var holders = new string?[request.Candidates.Count];
        var connection = await RentAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var command = new NpgsqlCommand(HoldersSql, connection);
            command.Parameters.Add(new NpgsqlParameter<long[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint, TypedValue = CandidateKeys(request) });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var index = (int)reader.GetInt64(0) - 1;
                    var name = reader.IsDBNull(1) || reader.GetString(1).Length == 0 ? "a session without application_name" : reader.GetString(1);
                    var client = reader.IsDBNull(2) ? "unknown client" : reader.GetString(2);
                    var pid = reader.IsDBNull(3) ? "?" : reader.GetInt32(3).ToString(CultureInfo.InvariantCulture);
                    var since = reader.IsDBNull(4) ? "?" : reader.GetFieldValue<DateTime>(4).ToUniversalTime().ToString("HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                    holders[index] = $"'{name}' (server pid {pid}, from {client}, connected since {since})";
                }
            }

            Return(connection);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return holders;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        while (_idle.TryTake(out var connection))
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal static long CandidateKey(string resource, string candidate) => ProcessIdentity.StableKey("deflake-lease\n" + resource + "\n" + candidate);

    private static long QueueKey(LeaseRequest request) => QueueKey(request.Resource, request.CandidateSetHash);

    /// <summary>The advisory lock key whose exclusive holder is first in line for a resource and candidate set.</summary>
    internal static long QueueKey(string resource, string candidateSetHash) =>
        ProcessIdentity.StableKey("deflake-lease-queue\n" + resource + "\n" + candidateSetHash);

    private static long[] CandidateKeys(LeaseRequest request) => [.. request.Candidates.Select(c => CandidateKey(request.Resource, c))];

    private async ValueTask<NpgsqlConnection> RentAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_idle.TryTake(out var idle))
        {
            return idle;
        }

        var connection = new NpgsqlConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return connection;
    }

    private void Return(NpgsqlConnection connection)
    {
        if (Volatile.Read(ref _disposed) == 0 && connection.State == System.Data.ConnectionState.Open && _idle.Count < MaxIdleConnections)
        {
            _idle.Add(connection);
        }
        else
        {
            connection.Dispose();
        }
    }

    /// <summary>Drops every advisory lock of the connection, then keeps it for reuse; closes it if that fails.</summary>
    private async ValueTask UnlockAndReturnAsync(NpgsqlConnection connection)
    {
        try
        {
            using var command = new NpgsqlCommand("SELECT pg_advisory_unlock_all()", connection);
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            return;
        }

        Return(connection);
    }

    private sealed class Handle(PostgresLeaseBackend backend, NpgsqlConnection connection, int index) : ILeaseHandle
    {
        public int Index => index;

        public ValueTask DisposeAsync() => backend.UnlockAndReturnAsync(connection);
    }

    private sealed class Turn(PostgresLeaseBackend backend, NpgsqlConnection connection) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => backend.UnlockAndReturnAsync(connection);
    }
}
