
namespace Deflake.Sqlite.Tests.Chaos;

/// <summary>Pools for chaos tests, each in a folder of its own that is deleted afterwards.</summary>
public sealed class SqliteChaosPools : IAsyncDisposable
{
    public const string StorySchemaSql = """
        CREATE TABLE foos (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);
        CREATE TABLE bars (id INTEGER PRIMARY KEY AUTOINCREMENT, foo_id INTEGER NOT NULL REFERENCES foos (id));
        CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, entity TEXT NOT NULL, entity_id INTEGER NOT NULL, action TEXT NOT NULL);
        CREATE TABLE t (x INT);
        CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, uses INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE pairs (a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b)) WITHOUT ROWID;
        INSERT INTO tags (name) VALUES ('seed data');
        """;

    /// <summary>The tables of <see cref="StorySchemaSql"/> that have a rowid, which rows chaos shadows.</summary>
    public static readonly string[] StoryRowidTables = ["audit_log", "bars", "foos", "t", "tags"];

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"deflake-chaos-tests-{Environment.ProcessId}-{Guid.NewGuid():N}");

    public static SchemaSource StorySchema { get; } = SchemaSource.FromDelegate("chaos-stories", "1", async (connection, cancellationToken) =>
    {
        await using var command = connection.CreateCommand();
        command.CommandText = StorySchemaSql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    });

    /// <summary>
    /// A pool of its own engine. <paramref name="inlineReads"/> false: every read goes through the table's TEMP view
    /// (tests of the views; by default plain FROM/JOIN reads get the shuffle as a subquery instead).
    /// </summary>
    public async Task<(TestDatabasePool Pool, SqliteEngine Engine)> CreateAsync(ChaosModes chaos, int seed, SchemaSource? schema = null, SqliteCloneMode mode = SqliteCloneMode.File, bool inlineReads = true)
    {
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = _directory, CloneMode = mode });
        var pool = await TestDatabasePool.CreateAsync(engine, new TestDatabaseOptions
        {
            Schema = schema ?? StorySchema,
            Chaos = chaos,
            Seed = seed,
            PoolSize = 1,
            RemoveOrphansOnStart = false,
        }, TestContext.Current.CancellationToken);
        if (chaos.HasFlag(ChaosModes.Rows))
        {
            engine.RowChaos.InlineReads = inlineReads;
        }

        return (pool, engine);
    }

    /// <summary>Runs <paramref name="body"/> on a fresh database of a pool with these settings.</summary>
    public async Task<T> WithDatabaseAsync<T>(ChaosModes chaos, int seed, Func<TestDatabase, Task<T>> body, bool inlineReads = true)
    {
        var (pool, _) = await CreateAsync(chaos, seed, inlineReads: inlineReads);
        await using (pool)
        {
            await using var database = await pool.RentAsync(TestContext.Current.CancellationToken);
            return await body(database);
        }
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }

        return ValueTask.CompletedTask;
    }
}
