using Deflake.Chaos.Stories;
using Microsoft.Data.Sqlite;

namespace Deflake.Sqlite.Tests.Chaos;

/// <summary>
/// The rows chaos views are made in the pool's background filler, ahead of the test, and statement rewrites are shared
/// between the connections of one engine: none of it may weaken the chaos or leak out of Deflake's connections.
/// </summary>
public sealed class SqliteRowChaosPreparationTests : IAsyncLifetime
{
    private readonly SqliteChaosPools _pools = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _pools.DisposeAsync();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(SqliteCloneMode.File)]
    [InlineData(SqliteCloneMode.Memory)]
    public async Task A_rented_clones_first_chaos_connection_makes_each_view_when_a_statement_first_names_its_table(SqliteCloneMode mode)
    {
        var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, 7, mode: mode, inlineReads: false);
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            await using var connection = await database.OpenConnectionAsync(Token);

            var chaos = Assert.IsType<ChaosSqliteConnection>(connection);
            // The filler opened the file clone's handle ahead; Microsoft.Data.Sqlite does not pool in-memory connections.
            Assert.Equal(mode == SqliteCloneMode.Memory, chaos.SyncedOnOpen);
            Assert.Equal(SqliteChaosPools.StoryRowidTables, chaos.Shadowed.Order(StringComparer.Ordinal));
            const string views = "SELECT name FROM temp.sqlite_schema WHERE type = 'view' ORDER BY name";
            Assert.Empty(await ChaosStories.ReadTextAsync(connection, views, Token));

            // Writes need no view; the first read of t makes t's view, and only t's.
            await ChaosStories.InsertDeleteReinsertAsync(connection, Token);
            Assert.Empty(chaos.Made);
            Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(connection, "SELECT x FROM t", Token));
            Assert.Equal(["t"], await ChaosStories.ReadTextAsync(connection, views, Token));
            Assert.NotEqual([2], await ChaosStories.ReadAsync(connection, "SELECT x FROM t LIMIT 1", Token));
            Assert.Equal(["t"], chaos.Made.Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task Views_made_on_a_second_handle_are_the_views_the_first_makes()
    {
        const string everyTable = "SELECT (SELECT COUNT(*) FROM audit_log) + (SELECT COUNT(*) FROM bars) + (SELECT COUNT(*) FROM foos) + (SELECT COUNT(*) FROM t) + (SELECT COUNT(*) FROM tags)";
        for (var seed = 1; seed <= 10; seed++)
        {
            var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, seed, inlineReads: false);
            await using (pool)
            {
                await using var database = await pool.RentAsync(Token);
                await using var ahead = await database.OpenConnectionAsync(Token);
                Assert.False(Assert.IsType<ChaosSqliteConnection>(ahead).SyncedOnOpen);

                // A second connection open at the same time gets a handle of its own, worked out on open.
                await using var onOpen = await database.OpenConnectionAsync(Token);
                Assert.True(Assert.IsType<ChaosSqliteConnection>(onOpen).SyncedOnOpen);

                Assert.Equal(1, await ChaosStories.ScalarAsync(ahead, everyTable, Token));
                Assert.Equal(1, await ChaosStories.ScalarAsync(onOpen, everyTable, Token));
                const string views = "SELECT name || ': ' || sql FROM temp.sqlite_schema WHERE type = 'view' ORDER BY name";
                Assert.Equal(await ChaosStories.ReadTextAsync(onOpen, views, Token), await ChaosStories.ReadTextAsync(ahead, views, Token));
                Assert.Equal(SqliteChaosPools.StoryRowidTables.Length, (await ChaosStories.ReadTextAsync(ahead, views, Token)).Count);
            }
        }
    }

    [Fact]
    public async Task Views_do_not_reach_plain_connections_to_the_clone()
    {
        var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, 3, inlineReads: false);
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            await using (var chaos = await database.OpenConnectionAsync(Token))
            {
                await ChaosStories.InsertDeleteReinsertAsync(chaos, Token);
                Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(chaos, "SELECT x FROM t", Token));
                Assert.Equal(1, await ChaosStories.ScalarAsync(chaos, "SELECT COUNT(*) FROM temp.sqlite_schema WHERE name = 't'", Token));
            }

            await using var plain = new SqliteConnection(database.ConnectionString);
            await plain.OpenAsync(Token);
            Assert.Equal(0, await ChaosStories.ScalarAsync(plain, "SELECT COUNT(*) FROM temp.sqlite_schema", Token));
            Assert.Equal(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(plain, "SELECT x FROM t", Token));
        }
    }

    [Theory]
    [InlineData(SqliteCloneMode.File)]
    [InlineData(SqliteCloneMode.Memory)]
    public async Task Clones_whose_views_were_made_ahead_are_dropped_even_when_no_test_opened_them(SqliteCloneMode mode)
    {
        var (pool, engine) = await _pools.CreateAsync(ChaosModes.Rows, 5, mode: mode);
        string connectionString;
        await using (pool)
        {
            // Rented, never opened: only the background filler's chaos handle ever touched it.
            await using var database = await pool.RentAsync(Token);
            connectionString = database.ConnectionString;
        }

        if (mode == SqliteCloneMode.File)
        {
            Assert.False(File.Exists(new SqliteConnectionStringBuilder(connectionString).DataSource));
            // Clones live in memory when they can (engine.CloneDirectory); the last pool out removes its empty folders.
            var clones = Path.GetDirectoryName(engine.CloneDirectory)!;
            Assert.True(!Directory.Exists(clones) || Directory.GetFiles(clones, "deflake_*", SearchOption.AllDirectories).Length == 0, clones);
        }
        else
        {
            // A pooled chaos handle left open would keep the shared in-memory database, tables and all, alive.
            await using var probe = new SqliteConnection(connectionString);
            await probe.OpenAsync(Token);
            Assert.Equal(0, await ChaosStories.ScalarAsync(probe, "SELECT COUNT(*) FROM sqlite_schema", Token));
        }
    }

    [Theory]
    [InlineData(SqliteCloneMode.File)]
    [InlineData(SqliteCloneMode.Memory)]
    public async Task A_failed_tests_database_is_kept_under_rows_with_its_rows_and_without_views(SqliteCloneMode mode)
    {
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = Path.Combine(Path.GetTempPath(), $"deflake-chaos-keep-{Guid.NewGuid():N}"), CloneMode = mode });
        try
        {
            string? keptAt;
            await using (var pool = await TestDatabasePool.CreateAsync(engine, new TestDatabaseOptions
            {
                Schema = SqliteChaosPools.StorySchema,
                Chaos = ChaosModes.All,
                Seed = 9,
                PoolSize = 1,
                KeepFailed = true,
                RemoveOrphansOnStart = false,
            }, Token))
            {
                var database = await pool.RentAsync(Token);
                await using (var connection = await database.OpenConnectionAsync(Token))
                {
                    await ChaosStories.InsertDeleteReinsertAsync(connection, Token);
                }

                database.MarkFailed();
                await database.DisposeAsync();
                keptAt = database.KeptAt;
            }

            Assert.NotNull(keptAt);
            var kept = Assert.Single(Directory.GetFiles(Path.Combine(engine.RootDirectory, "kept"), "deflake_*.db"));
            await using var file = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = kept, Pooling = false }.ToString());
            await file.OpenAsync(Token);
            Assert.Equal([1, 2, 3], await ChaosStories.ReadAsync(file, "SELECT x FROM t ORDER BY x", Token));
            Assert.Equal(0, await ChaosStories.ScalarAsync(file, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'view'", Token));
        }
        finally
        {
            Directory.Delete(engine.RootDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Connections_of_one_engine_share_the_rewrites_of_their_table_set()
    {
        var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, 2);
        await using (pool)
        {
            SqliteRewriteCache first, second;
            await using (var database = await pool.RentAsync(Token))
            await using (var connection = await database.OpenConnectionAsync(Token))
            {
                await ChaosStories.ExecuteAsync(connection, "INSERT INTO t (x) VALUES (1)", Token);
                first = Assert.IsType<ChaosSqliteConnection>(connection).Rewrites!;
            }

            await using (var database = await pool.RentAsync(Token))
            await using (var connection = await database.OpenConnectionAsync(Token))
            {
                await ChaosStories.ExecuteAsync(connection, "INSERT INTO t (x) VALUES (1)", Token);
                second = Assert.IsType<ChaosSqliteConnection>(connection).Rewrites!;
                Assert.Equal([1], await ChaosStories.ReadAsync(connection, "SELECT x FROM t", Token));
            }

            Assert.Same(first, second);
            Assert.True(first.TryGet("INSERT INTO t (x) VALUES (1)", out var rewritten));
            Assert.Equal("INSERT INTO main.t (x) VALUES (1)", rewritten.Sql);
            Assert.Empty(rewritten.Reads);
        }
    }

    [Fact]
    public async Task A_shared_rewrite_is_never_applied_to_a_connection_that_shadows_other_tables()
    {
        const string insert = "INSERT INTO extra (v) VALUES (1)";
        var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, 4);
        await using (pool)
        {
            // Clone 1: "extra" does not exist, so the statement is cached unchanged for the story's table set.
            await using (var database = await pool.RentAsync(Token))
            await using (var connection = await database.OpenConnectionAsync(Token))
            {
                await Assert.ThrowsAsync<SqliteException>(() => ChaosStories.ExecuteAsync(connection, insert, Token));
                Assert.True(Assert.IsType<ChaosSqliteConnection>(connection).Rewrites!.TryGet(insert, out var unchanged));
                Assert.Equal(insert, unchanged.Sql);
            }

            // Clone 2: after the DDL "extra" is shadowed too; the unchanged text would write to the view and fail.
            await using (var database = await pool.RentAsync(Token))
            await using (var connection = await database.OpenConnectionAsync(Token))
            {
                await ChaosStories.ExecuteAsync(connection, "CREATE TABLE extra (id INTEGER PRIMARY KEY, v INT)", Token);
                Assert.Contains("extra", Assert.IsType<ChaosSqliteConnection>(connection).Shadowed);
                await ChaosStories.ExecuteAsync(connection, insert, Token);
                await ChaosStories.ExecuteAsync(connection, insert, Token);
                Assert.Equal([1, 1], await ChaosStories.ReadAsync(connection, "SELECT v FROM extra", Token));
            }
        }
    }

    [Fact]
    public async Task Each_statement_runs_with_the_seeded_reverse_unordered_selects_flag()
    {
        const int seed = 13;
        var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, seed);
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            await using var connection = await database.OpenConnectionAsync(Token);
            var chaos = Assert.IsType<ChaosSqliteConnection>(connection);
            var flips = 0;
            bool? previous = null;
            for (var n = 0; n < 40; n++)
            {
                // Each chaos command sets the flag before it runs; a plain SqliteCommand reads it without changing it.
                await ChaosStories.ScalarAsync(connection, "SELECT 1", Token);
                var expected = (ChaosSeed.Derive(seed, "rows:reverse:" + n.ToString(System.Globalization.CultureInfo.InvariantCulture)) & 1) == 1;
                Assert.Equal(expected, chaos.ReverseUnorderedSelects());
                flips += previous is { } p && p != expected ? 1 : 0;
                previous = expected;
            }

            Assert.True(flips >= 5, $"the flag changed only {flips} times in 40 statements");
        }
    }

    [Fact]
    public void Rewrite_caches_are_per_exact_table_set_and_bounded()
    {
        var caches = new SqliteRewriteCaches();
        var ab = caches.For(new HashSet<string>(["a", "b"], StringComparer.OrdinalIgnoreCase));
        Assert.Same(ab, caches.For(["b", "a"]));
        Assert.NotSame(ab, caches.For(["a"]));
        Assert.NotSame(ab, caches.For(["a", "b", "c"]));
        Assert.NotSame(ab, caches.For(["A", "b"]));

        ab.Add("INSERT INTO a VALUES (1)", new SqliteStatementPlan("INSERT INTO main.a VALUES (1)", []));
        Assert.False(caches.For(["a"]).TryGet("INSERT INTO a VALUES (1)", out _));
        Assert.True(caches.For(["a", "b"]).TryGet("INSERT INTO a VALUES (1)", out var rewrite));
        Assert.Equal("INSERT INTO main.a VALUES (1)", rewrite.Sql);

        for (var i = 0; i < SqliteRewriteCaches.MaxSets * 2; i++)
        {
            caches.For(["t" + i]);
        }

        Assert.Equal(SqliteRewriteCaches.MaxSets, caches.Count);
        var unshared = caches.For(["one more"]);
        Assert.NotSame(unshared, caches.For(["one more"]));

        for (var i = 0; i < SqliteRewriteCache.MaxEntries + 10; i++)
        {
            ab.Add("SELECT " + i, SqliteStatementPlan.Unchanged("SELECT " + i));
        }

        Assert.Equal(SqliteRewriteCache.MaxEntries, ab.Count);
    }

}
