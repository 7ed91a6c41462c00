using System.Data.Common;

namespace Deflake;

/// <summary>
/// One test's own database, cloned from the migrated template. Dispose it when the test ends: it is dropped,
/// or kept when the test failed and keeping is on.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly TestDatabasePool _pool;
    private readonly EngineDatabase _clone;
    private readonly List<DbConnection> _connections = [];
    private int _disposed;
    private bool _failed;
    private bool _keep;

    internal TestDatabase(TestDatabasePool pool, EngineDatabase clone)
    {
        _pool = pool;
        _clone = clone;
    }

    /// <summary>The database's name (PostgreSQL database name, SQLite file or in-memory name).</summary>
    public string Name => _clone.Name;

    /// <summary>
    /// Connection string for code that opens its own connections (the app under test, another process).
    /// Chaos that lives in the database reaches it.
    /// </summary>
    public string ConnectionString => _clone.ConnectionString;

    /// <summary>The engine's kind: <c>sqlite</c>, <c>postgres</c>.</summary>
    public string EngineKind => _pool.EngineKind;

    /// <summary>The seed in use for this run.</summary>
    public int Seed => _pool.Seed;

    /// <summary>The chaos modes in use.</summary>
    public ChaosModes Chaos => _pool.Chaos;

    /// <summary>After disposal: where a kept database can be reached (no password), or null when it was dropped.</summary>
    public string? KeptAt { get; private set; }

    /// <summary>Creates a connection configured with the chaos in effect; the caller opens and disposes it.</summary>
    public DbConnection CreateConnection()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _pool.CreateConnection(_clone);
    }

    /// <summary>Opens a connection configured with the chaos in effect. Dispose it; disposal of the database closes leftovers.</summary>
    public async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        var connection = CreateConnection();
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        lock (_connections)
        {
            _connections.Add(connection);
        }

        return connection;
    }

    /// <summary>Marks the test as failed: when keeping failed databases is on, disposal keeps this one.</summary>
    public void MarkFailed() => _failed = true;

    /// <summary>Keeps this database after disposal whatever the outcome (for debugging).</summary>
    public void Keep() => _keep = true;

    /// <summary>Drops the database (or keeps it, see <see cref="MarkFailed"/>), closing connections opened through it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        DbConnection[] open;
        lock (_connections)
        {
            open = [.. _connections];
            _connections.Clear();
        }

        foreach (var connection in open)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        KeptAt = await _pool.ReturnAsync(_clone, _keep || (_failed && _pool.KeepFailed)).ConfigureAwait(false);
    }
}
