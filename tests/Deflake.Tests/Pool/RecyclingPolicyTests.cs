using System.Collections.Concurrent;
using System.Data.Common;
using Deflake.Contract;

namespace Deflake.Tests.Pool;

/// <summary>The pool's recycling policy, on an engine that only counts (no database behaviour is imitated).</summary>
public sealed class RecyclingPolicyTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_sequential_suite_reuses_the_first_clones_and_makes_no_more()
    {
        var engine = new CountingEngine();
        await using var pool = await TestDatabasePool.CreateAsync(engine, Options(poolSize: 2), Token);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 50; i++)
        {
            await using var database = await pool.RentAsync(Token);
            names.Add(database.Name);
        }

        await WaitAsync(() => pool.Statistics.Recycled == 50);
        Assert.True(pool.Recycle);
        Assert.Equal(2, pool.Statistics.Created);
        Assert.Equal(2, names.Count);
        Assert.Equal(0, pool.Statistics.Dropped);
    }

    [Fact]
    public async Task A_database_the_engine_cannot_restore_is_dropped_replaced_and_the_reason_logged_at_debug_level()
    {
        var engine = new CountingEngine { Refuse = name => "the test ran DDL" };
        var log = new ListLoggerFactory();
        var options = Options(poolSize: 1);
        options.LoggerFactory = log;
        await using var pool = await TestDatabasePool.CreateAsync(engine, options, Token);
        var first = await pool.RentAsync(Token);
        var name = first.Name;
        await first.DisposeAsync();
        await using var second = await pool.RentAsync(Token);

        Assert.NotEqual(name, second.Name);
        await WaitAsync(() => engine.Dropped.Contains(name));
        Assert.Contains($"Debug: Deflake re-clones instead of recycling {name}: the test ran DDL", log.Lines);
        Assert.Equal(0, pool.Statistics.Recycled);
    }

    [Fact]
    public async Task A_restore_that_throws_never_hands_the_database_out_again()
    {
        var engine = new CountingEngine { Throw = true };
        await using var pool = await TestDatabasePool.CreateAsync(engine, Options(poolSize: 1), Token);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 5; i++)
        {
            await using var database = await pool.RentAsync(Token);
            Assert.True(seen.Add(database.Name), $"{database.Name} came back after its restore threw");
        }
    }

    [Fact]
    public async Task Recycling_off_never_asks_the_engine_to_restore()
    {
        var engine = new CountingEngine();
        var options = Options(poolSize: 1);
        options.Recycle = false;
        await using var pool = await TestDatabasePool.CreateAsync(engine, options, Token);
        for (var i = 0; i < 5; i++)
        {
            await using var database = await pool.RentAsync(Token);
        }

        await WaitAsync(() => pool.Statistics.Dropped == 5);
        Assert.False(pool.Recycle);
        Assert.Equal(0, engine.Restores);
    }

    [Fact]
    public async Task An_engine_that_cannot_restore_gets_a_new_clone_per_test_and_is_never_asked()
    {
        var engine = new CountingEngine { CanRestore = false };
        await using var pool = await TestDatabasePool.CreateAsync(engine, Options(poolSize: 1), Token);
        for (var i = 0; i < 5; i++)
        {
            await using var database = await pool.RentAsync(Token);
        }

        await WaitAsync(() => pool.Statistics.Dropped == 5);
        Assert.False(pool.Recycle);
        Assert.Equal(0, engine.Restores);
    }

    [Fact]
    public async Task A_kept_database_is_never_recycled()
    {
        var engine = new CountingEngine();
        await using var pool = await TestDatabasePool.CreateAsync(engine, Options(poolSize: 1), Token);
        var database = await pool.RentAsync(Token);
        database.Keep();
        await database.DisposeAsync();

        Assert.Equal($"kept {database.Name}", database.KeptAt);
        Assert.Equal(0, engine.Restores);
    }

    [Fact]
    public async Task Parallel_tests_grow_the_pool_to_their_number_and_no_further()
    {
        var engine = new CountingEngine();
        await using var pool = await TestDatabasePool.CreateAsync(engine, Options(poolSize: 1), Token);
        for (var round = 0; round < 10; round++)
        {
            var rented = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => pool.RentAsync(Token).AsTask()));
            Assert.Equal(4, rented.Select(d => d.Name).Distinct().Count());
            foreach (var database in rented)
            {
                await database.DisposeAsync();
            }

            await WaitAsync(() => pool.Statistics.Recycled == 4 * (round + 1));
        }

        Assert.InRange(pool.Statistics.Created, 4, 6);
    }

    private static TestDatabaseOptions Options(int poolSize) => new()
    {
        Schema = SchemaSource.FromDelegate("policy", "v1", (_, _) => Task.CompletedTask),
        PoolSize = poolSize,
        Chaos = ChaosModes.None,
        Seed = 1,
        KeepFailed = false,
        RemoveOrphansOnStart = false,
    };

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 30 s");
            await Task.Delay(10, Token);
        }
    }

    /// <summary>Makes "clones" that are names, and restores them as told; records what it was asked.</summary>
    private sealed class CountingEngine : IDatabaseEngine
    {
        private int _counter;
        private int _restores;

        public bool CanRestore { get; init; } = true;

        public Func<string, string?> Refuse { get; init; } = _ => null;

        public bool Throw { get; init; }

        public ConcurrentBag<string> Dropped { get; } = [];

        public int Restores => Volatile.Read(ref _restores);

        public string Kind => "counting";

        public bool RestoresClones => CanRestore;

        public Task<string> StartAsync(EngineContext context, CancellationToken cancellationToken = default) => Task.FromResult("1");

        public Task<EngineTemplate> EnsureTemplateAsync(TemplateRequest request, CancellationToken cancellationToken = default)
            => Task.FromResult(new EngineTemplate("template", request.Fingerprint, WasBuilt: true));

        public Task<EngineDatabase> CreateCloneAsync(EngineTemplate source, CancellationToken cancellationToken = default)
        {
            var name = $"clone{Interlocked.Increment(ref _counter)}";
            return Task.FromResult(new EngineDatabase(name, "Data Source=" + name));
        }

        public Task<RestoreResult> RestoreCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _restores);
            if (Throw)
            {
                throw new InvalidOperationException("the server went away");
            }

            return Task.FromResult(Refuse(database.Name) is { } reason ? RestoreResult.NotRestored(reason) : RestoreResult.Success);
        }

        public Task DropCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default)
        {
            Dropped.Add(database.Name);
            return Task.CompletedTask;
        }

        public Task<string> KeepCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default) => Task.FromResult($"kept {database.Name}");

        public DbConnection CreateConnection(EngineDatabase database) => throw new NotSupportedException("no connections in this engine");

        public Task<int> RemoveOrphansAsync(TimeSpan keptRetention, CancellationToken cancellationToken = default) => Task.FromResult(0);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
