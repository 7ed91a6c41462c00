using System.Data.Common;

namespace Deflake;

/// <summary>
/// One test's own database, cloned from the migrated template. Dispose it when the test ends: it is dropped,
/// or kept when the test failed and keeping is on.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private static readonly AsyncLocal<TestDatabase?> Ambient = new();
    private static Func<TestDatabase?>[] _currentSources = [];
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

    /// <summary>
    /// The running test's own database, without a base class: set for each test by a Deflake integration
    /// (<c>[DeflakeDatabase]</c> in xUnit v3, xUnit v2 and NUnit, <c>[DeflakeTestClass]</c> in MSTest, or
    /// <c>DatabaseTest&lt;T&gt;</c>). Concurrent tests each see their own.
    /// </summary>
    /// <exception cref="InvalidOperationException">No Deflake integration gave the running test a database.</exception>
    public static TestDatabase Current => CurrentOrNull ?? throw new InvalidOperationException(
        "No Deflake database for this test: TestDatabase.Current is set by [DeflakeDatabase] (xUnit v3, xUnit v2, NUnit) or [DeflakeTestClass] (MSTest) on the test class or assembly, or by DatabaseTest<T>; add one, or rent from the pool yourself.");

    /// <summary>The running test's own database, or null when no Deflake integration gave it one.</summary>
    public static TestDatabase? CurrentOrNull
    {
        get
        {
            if (Ambient.Value is { } database && Volatile.Read(ref database._disposed) == 0)
            {
                return database;
            }

            foreach (var source in Volatile.Read(ref _currentSources))
            {
                if (source() is { } found && Volatile.Read(ref found._disposed) == 0)
                {
                    return found;
                }
            }

            return null;
        }
    }

    /// <summary>
    /// For integrations: makes <paramref name="database"/> the <see cref="Current"/> database of the code that runs
    /// after this call in the same asynchronous flow (the test, when called from the framework's synchronous per-test
    /// hook). Null clears it.
    /// </summary>
    public static void SetCurrent(TestDatabase? database) => Ambient.Value = database;

    /// <summary>
    /// For integrations whose frameworks know the running test in a context of their own (xUnit v3's
    /// <c>TestContext</c>): <see cref="Current"/> asks <paramref name="source"/> when no database was set with
    /// <see cref="SetCurrent"/>. Adding the same source twice has no effect.
    /// </summary>
    public static void AddCurrentSource(Func<TestDatabase?> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        while (true)
        {
            var sources = Volatile.Read(ref _currentSources);
            if (sources.Contains(source))
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _currentSources, [.. sources, source], sources) == sources)
            {
                return;
            }
        }
    }

    /// <summary>
    /// This database's connection string as a configuration entry, for app code that reads it from
    /// <c>IConfiguration</c>: <c>new ConfigurationBuilder().AddInMemoryCollection(database.AsConfiguration("ConnectionStrings:Shop"))</c>,
    /// or <c>builder.UseSetting(…)</c> with the same key and <see cref="ConnectionString"/> in a <c>WebApplicationFactory</c>.
    /// </summary>
    /// <param name="key">The configuration key the app reads, such as <c>ConnectionStrings:Shop</c>.</param>
    public IEnumerable<KeyValuePair<string, string?>> AsConfiguration(string key = "ConnectionStrings:Default")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        return [new KeyValuePair<string, string?>(key, ConnectionString)];
    }

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
