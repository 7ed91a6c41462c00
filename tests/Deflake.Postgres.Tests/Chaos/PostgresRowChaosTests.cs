using Deflake.Chaos.Stories;
using Npgsql;

namespace Deflake.Postgres.Tests.Chaos;

public sealed class PostgresRowChaosTests
{

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static Task<List<long>> ReadAfterReinsertAsync(NpgsqlConnection connection, string sql) => ReadAfterAsync(connection, sql);

    private static async Task<List<long>> ReadAfterAsync(NpgsqlConnection connection, string sql)
    {
        await ChaosStories.InsertDeleteReinsertAsync(connection, Token);
        return await ChaosStories.ReadAsync(connection, sql, Token);
    }

    [Fact]
    public async Task Without_chaos_a_read_without_order_by_returns_insertion_order()
    {
        Assert.Equal(ChaosStories.InsertionOrder, await PostgresChaosPools.WithDatabaseAsync(ChaosModes.None, 1, (_, c) => ReadAfterReinsertAsync(c, "SELECT x FROM t")));
        Assert.Equal([2], await PostgresChaosPools.WithDatabaseAsync(ChaosModes.None, 1, (_, c) => ReadAfterReinsertAsync(c, "SELECT x FROM t LIMIT 1")));
    }

    [Fact]
    public async Task Under_rows_a_read_without_order_by_differs_from_insertion_order_for_at_least_99_of_100_seeds()
    {
        var passed = await PostgresChaosPools.RowSeedsWhereAsync(100,
            async c => (await ReadAfterReinsertAsync(c, "SELECT x FROM t")).SequenceEqual(ChaosStories.InsertionOrder));

        Assert.True(passed.Count <= 1, $"the order assertion still passed for seeds {string.Join(", ", passed)}");
    }

    [Fact]
    public async Task Under_rows_limit_1_picks_another_row_for_at_least_99_of_100_seeds()
    {
        var passed = await PostgresChaosPools.RowSeedsWhereAsync(100,
            async c => (await ReadAfterReinsertAsync(c, "SELECT x FROM t LIMIT 1")).SequenceEqual([2]));

        Assert.True(passed.Count <= 1, $"the LIMIT 1 assertion still passed for seeds {string.Join(", ", passed)}");
    }

    [Fact]
    public async Task Under_rows_a_read_with_order_by_on_a_unique_key_passes_for_100_of_100_seeds()
    {
        var failed = await PostgresChaosPools.RowSeedsWhereAsync(100,
            async c => !(await ReadAfterReinsertAsync(c, "SELECT x FROM t ORDER BY x")).SequenceEqual([1, 2, 3]));

        Assert.Empty(failed);
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_order_and_other_seeds_give_others()
    {
        var orders = new HashSet<string>();
        for (var seed = 1; seed <= 4; seed++)
        {
            var first = await PostgresChaosPools.WithDatabaseAsync(ChaosModes.Rows, seed, (_, c) => ReadAfterReinsertAsync(c, "SELECT x FROM t"));
            var again = await PostgresChaosPools.WithDatabaseAsync(ChaosModes.Rows, seed, (_, c) => ReadAfterReinsertAsync(c, "SELECT x FROM t"));
            Assert.Equal(first, again);
            orders.Add(string.Join(',', first));
        }

        Assert.True(orders.Count >= 2, "every seed gave the same order");
    }

    [Fact]
    public async Task Each_clone_carries_the_pool_seed_and_the_chaos_schema_first_on_its_search_path()
    {
        var (seed, path) = await PostgresChaosPools.WithDatabaseAsync(ChaosModes.Rows, 77, async (_, c) =>
            (await ChaosStories.ScalarAsync(c, "SELECT current_setting('deflake.seed')::bigint", Token),
             (string)(await new NpgsqlCommand("SELECT current_setting('search_path')", c).ExecuteScalarAsync(Token))!));

        Assert.Equal(77, seed);
        Assert.StartsWith("deflake_chaos, ", path, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Code_that_opens_its_own_connection_from_the_connection_string_sees_the_shuffle()
    {
        await using var pool = await PostgresChaosPools.CreateAsync(ChaosModes.Rows, 3);
        await using var database = await pool.RentAsync(Token);
        await using (var app = new NpgsqlConnection(database.ConnectionString))
        {
            await app.OpenAsync(Token);
            await ChaosStories.InsertDeleteReinsertAsync(app, Token);
        }

        await using var other = new NpgsqlConnection(database.ConnectionString);
        await other.OpenAsync(Token);
        Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(other, "SELECT x FROM t", Token));
        await using var viaDeflake = await database.OpenConnectionAsync(Token);
        Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(viaDeflake, "SELECT x FROM t", Token));
    }

    [Fact]
    public async Task Under_rows_writes_with_returning_upsert_and_ddl_still_work()
    {
        var values = await PostgresChaosPools.WithDatabaseAsync(ChaosModes.All, 5, async (_, c) =>
        {
            var id = await ChaosStories.ScalarAsync(c, "INSERT INTO tags (name) VALUES ('a') RETURNING id", Token);
            await ChaosStories.ExecuteAsync(c, "INSERT INTO tags (name, uses) VALUES ('a', 1) ON CONFLICT (name) DO UPDATE SET uses = tags.uses + excluded.uses", Token);
            await ChaosStories.ExecuteAsync(c, $"UPDATE tags SET uses = uses + 1 WHERE id = {id}", Token);
            await ChaosStories.ExecuteAsync(c, "DELETE FROM tags WHERE name = 'seed data'", Token);
            Assert.Equal(2, await ChaosStories.ScalarAsync(c, $"SELECT uses FROM tags WHERE id = {id}", Token));

            // DDL in a test: the views step aside and come back with the new column.
            await ChaosStories.ExecuteAsync(c, "ALTER TABLE tags ADD COLUMN colour text", Token);
            await ChaosStories.ExecuteAsync(c, "UPDATE tags SET colour = 'red'", Token);
            Assert.Equal(1, await ChaosStories.ScalarAsync(c, "SELECT COUNT(*) FROM tags WHERE colour = 'red'", Token));
            await ChaosStories.ExecuteAsync(c, "ALTER TABLE t ALTER COLUMN x TYPE bigint", Token);
            await ChaosStories.ExecuteAsync(c, "CREATE TABLE extra (v int); INSERT INTO extra VALUES (1), (2), (3)", Token);

            // TRUNCATE by the table's qualified name works; unqualified it names the view and fails.
            await ChaosStories.ExecuteAsync(c, "TRUNCATE public.tags", Token);
            var error = await Assert.ThrowsAsync<PostgresException>(() => ChaosStories.ExecuteAsync(c, "TRUNCATE tags", Token));
            Assert.Contains("is not a table", error.MessageText, StringComparison.Ordinal);
            return await ChaosStories.ReadAsync(c, "SELECT v FROM extra ORDER BY v", Token);
        });

        Assert.Equal([1, 2, 3], values);
    }
}
