using Deflake.Chaos.Stories;
using Microsoft.Data.Sqlite;

namespace Deflake.Sqlite.Tests.Chaos;

public sealed class SqliteRowChaosTests : IAsyncLifetime
{
    private readonly SqliteChaosPools _pools = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _pools.DisposeAsync();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary><paramref name="inlineReads"/> false: the read goes through t's TEMP view instead of an inlined subquery.</summary>
    private Task<List<long>> ReadAfterReinsertAsync(ChaosModes chaos, int seed, string sql, bool inlineReads = true) => _pools.WithDatabaseAsync(chaos, seed, async database =>
    {
        await using var connection = await database.OpenConnectionAsync(Token);
        await ChaosStories.InsertDeleteReinsertAsync(connection, Token);
        var values = await ChaosStories.ReadAsync(connection, sql, Token);
        if (connection is ChaosSqliteConnection chaosConnection)
        {
            // Which path the read took: a subquery in its text, or t's view on the handle.
            Assert.Equal(!inlineReads, chaosConnection.Made.Contains("t"));
        }

        return values;
    }, inlineReads);

    [Fact]
    public async Task Without_chaos_a_read_without_order_by_returns_insertion_order()
    {
        Assert.Equal(ChaosStories.InsertionOrder, await ReadAfterReinsertAsync(ChaosModes.None, 1, "SELECT x FROM t"));
        Assert.Equal([2], await ReadAfterReinsertAsync(ChaosModes.None, 1, "SELECT x FROM t LIMIT 1"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Under_rows_a_read_without_order_by_differs_from_insertion_order_for_at_least_99_of_100_seeds(bool inlineReads)
    {
        var passed = 0;
        for (var seed = 1; seed <= 100; seed++)
        {
            var values = await ReadAfterReinsertAsync(ChaosModes.Rows, seed, "SELECT x FROM t", inlineReads);
            Assert.Equal([1, 2, 3], values.Order());
            passed += values.SequenceEqual(ChaosStories.InsertionOrder) ? 1 : 0;
        }

        Assert.True(passed <= 1, $"the order assertion still passed for {passed} of 100 seeds");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Under_rows_limit_1_picks_another_row_for_at_least_99_of_100_seeds(bool inlineReads)
    {
        var passed = 0;
        for (var seed = 1; seed <= 100; seed++)
        {
            var values = await ReadAfterReinsertAsync(ChaosModes.Rows, seed, "SELECT x FROM t LIMIT 1", inlineReads);
            passed += values.SequenceEqual([2]) ? 1 : 0;
        }

        Assert.True(passed <= 1, $"the LIMIT 1 assertion still passed for {passed} of 100 seeds");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Under_rows_a_read_with_order_by_on_a_unique_key_passes_for_100_of_100_seeds(bool inlineReads)
    {
        for (var seed = 1; seed <= 100; seed++)
        {
            Assert.Equal([1, 2, 3], await ReadAfterReinsertAsync(ChaosModes.Rows, seed, "SELECT x FROM t ORDER BY x", inlineReads));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_same_seed_gives_the_same_order_and_other_seeds_give_others(bool inlineReads)
    {
        var orders = new HashSet<string>();
        for (var seed = 1; seed <= 20; seed++)
        {
            var first = await ReadAfterReinsertAsync(ChaosModes.Rows, seed, "SELECT x FROM t", inlineReads);
            var again = await ReadAfterReinsertAsync(ChaosModes.Rows, seed, "SELECT x FROM t", inlineReads);
            Assert.Equal(first, again);
            orders.Add(string.Join(',', first));
        }

        Assert.True(orders.Count >= 2, "every seed gave the same order");
    }

    [Fact]
    public async Task Under_rows_writes_with_returning_upsert_and_ddl_still_work()
    {
        var names = await _pools.WithDatabaseAsync(ChaosModes.All, 5, async database =>
        {
            await using var connection = await database.OpenConnectionAsync(Token);
            var id = await ChaosStories.ScalarAsync(connection, "INSERT INTO tags (name) VALUES ('a') RETURNING id", Token);
            await ChaosStories.ExecuteAsync(connection, "INSERT INTO tags (name) VALUES ('b'), ('c')", Token);
            await ChaosStories.ExecuteAsync(connection,
                "INSERT INTO tags (name, uses) VALUES ('a', 1) ON CONFLICT (name) DO UPDATE SET uses = tags.uses + excluded.uses", Token);
            await ChaosStories.ExecuteAsync(connection, "UPDATE \"tags\" SET uses = uses + 1 WHERE id = " + id, Token);
            await ChaosStories.ExecuteAsync(connection, "WITH doomed AS (SELECT id FROM tags WHERE name = 'c') DELETE FROM tags WHERE id IN (SELECT id FROM doomed)", Token);
            await ChaosStories.ExecuteAsync(connection, "INSERT INTO pairs (a, b) VALUES (1, 2), (2, 1)", Token);
            Assert.Equal(2, await ChaosStories.ScalarAsync(connection, "SELECT uses FROM tags WHERE id = " + id, Token));

            // DDL inside a test: the views step aside and come back for the new column.
            await ChaosStories.ExecuteAsync(connection, "ALTER TABLE tags ADD COLUMN colour TEXT", Token);
            await ChaosStories.ExecuteAsync(connection, "UPDATE tags SET colour = 'red'", Token);
            Assert.Equal(3, await ChaosStories.ScalarAsync(connection, "SELECT COUNT(*) FROM tags WHERE colour = 'red'", Token));
            await ChaosStories.ExecuteAsync(connection, "CREATE TABLE extra (id INTEGER PRIMARY KEY, v INT); INSERT INTO extra (v) VALUES (1), (2)", Token);

            await using var transaction = await connection.BeginTransactionAsync(Token);
            await using (var insert = connection.CreateCommand())
            {
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO extra (v) VALUES (3)";
                await insert.ExecuteNonQueryAsync(Token);
            }

            await transaction.CommitAsync(Token);
            return await ChaosStories.ReadAsync(connection, "SELECT v FROM extra ORDER BY v", Token);
        });

        Assert.Equal([1, 2, 3], names);
    }

    [Fact]
    public async Task Connections_from_the_test_database_are_shuffled_in_memory_clones_too()
    {
        var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, 11, mode: SqliteCloneMode.Memory);
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            await using var connection = await database.OpenConnectionAsync(Token);
            await ChaosStories.InsertDeleteReinsertAsync(connection, Token);
            Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(connection, "SELECT x FROM t", Token));
            Assert.IsAssignableFrom<SqliteConnection>(database.CreateConnection());
        }
    }
}
