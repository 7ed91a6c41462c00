using Deflake.Chaos.Stories;
using Microsoft.Data.Sqlite;

namespace Deflake.Sqlite.Tests.Chaos;

/// <summary>
/// A table's view is made on the handle when a chaos command first names the table. That must never leave a read
/// without its shuffle: after a rolled-back transaction, through a subquery, a CTE or a join, after DDL, for a command
/// whose text was set before the connection opened.
/// </summary>
public sealed class SqliteRowChaosLazyViewTests : IAsyncLifetime
{
    private const string Views = "SELECT name FROM temp.sqlite_schema WHERE type = 'view' ORDER BY name";
    private readonly SqliteChaosPools _pools = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _pools.DisposeAsync();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private async Task ForSeedsAsync(Func<DbConnectionAndChaos, Task> body, int seeds = 5)
    {
        for (var seed = 1; seed <= seeds; seed++)
        {
            var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, seed, inlineReads: false);
            await using (pool)
            {
                await using var database = await pool.RentAsync(Token);
                await using var connection = await database.OpenConnectionAsync(Token);
                await body(new DbConnectionAndChaos(database, (SqliteConnection)connection, Assert.IsType<ChaosSqliteConnection>(connection)));
            }
        }
    }

    private sealed record DbConnectionAndChaos(TestDatabase Database, SqliteConnection Connection, ChaosSqliteConnection Chaos);

    private static async Task ReadInAsync(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync(Token);
        while (await reader.ReadAsync(Token))
        {
        }
    }

    [Fact]
    public Task A_view_made_inside_a_rolled_back_transaction_is_made_again_after_it() => ForSeedsAsync(async c =>
    {
        await ChaosStories.InsertDeleteReinsertAsync(c.Connection, Token);
        await using (var transaction = (SqliteTransaction)await c.Connection.BeginTransactionAsync(Token))
        {
            await ReadInAsync(c.Connection, transaction, "SELECT x FROM t");
            Assert.Contains("t", c.Chaos.Made);
            await transaction.RollbackAsync(Token);
        }

        // The rollback took the view with it: Deflake must not believe the handle still has it.
        Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(c.Connection, "SELECT x FROM t", Token));
        Assert.NotEqual([2], await ChaosStories.ReadAsync(c.Connection, "SELECT x FROM t LIMIT 1", Token));
        Assert.Equal(["t"], await ChaosStories.ReadTextAsync(c.Connection, Views, Token));

        // And a reopen of the handle trusts what it recorded after that.
        await c.Connection.CloseAsync();
        await c.Connection.OpenAsync(Token);
        Assert.False(c.Chaos.SyncedOnOpen);
        Assert.Equal(["t"], c.Chaos.Made);
    });

    [Fact]
    public Task A_view_made_after_a_savepoint_that_is_rolled_back_to_is_made_again_in_the_same_transaction() => ForSeedsAsync(async c =>
    {
        await ChaosStories.InsertDeleteReinsertAsync(c.Connection, Token);
        await using var transaction = (SqliteTransaction)await c.Connection.BeginTransactionAsync(Token);
        await ReadInAsync(c.Connection, transaction, "SELECT COUNT(*) FROM tags");
        transaction.Save("before_t");
        await ReadInAsync(c.Connection, transaction, "SELECT x FROM t");
        transaction.Rollback("before_t");

        // Still inside the transaction: tags' view (made before the savepoint) stays, t's went with the savepoint.
        await using (var command = c.Connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT x FROM t";
            var values = new List<long>();
            await using (var reader = await command.ExecuteReaderAsync(Token))
            {
                while (await reader.ReadAsync(Token))
                {
                    values.Add(reader.GetInt64(0));
                }
            }

            Assert.NotEqual(ChaosStories.InsertionOrder, values);
        }

        await transaction.CommitAsync(Token);
        Assert.Equal(["t", "tags"], await ChaosStories.ReadTextAsync(c.Connection, Views, Token));
        Assert.Equal(["t", "tags"], c.Chaos.Made.Order(StringComparer.Ordinal));
    });

    [Fact]
    public async Task A_view_made_in_a_transaction_left_open_at_close_is_made_again_on_the_next_open()
    {
        var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, 4, inlineReads: false);
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            await using (var first = (SqliteConnection)await database.OpenConnectionAsync(Token))
            {
                await ChaosStories.InsertDeleteReinsertAsync(first, Token);
                var transaction = (SqliteTransaction)await first.BeginTransactionAsync(Token);
                await ReadInAsync(first, transaction, "SELECT x FROM t");
                Assert.Contains("t", Assert.IsType<ChaosSqliteConnection>(first).Made);
                // Closed with the transaction open: Microsoft.Data.Sqlite rolls it back, and the view with it.
            }

            await using var connection = await database.OpenConnectionAsync(Token);
            var chaos = Assert.IsType<ChaosSqliteConnection>(connection);
            Assert.True(chaos.SyncedOnOpen);
            Assert.Empty(chaos.Made);
            Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(connection, "SELECT x FROM t", Token));
        }
    }

    [Fact]
    public Task A_view_made_inside_a_committed_transaction_stays() => ForSeedsAsync(async c =>
    {
        await ChaosStories.InsertDeleteReinsertAsync(c.Connection, Token);
        await using (var transaction = (SqliteTransaction)await c.Connection.BeginTransactionAsync(Token))
        {
            await ReadInAsync(c.Connection, transaction, "SELECT x FROM t");
            await transaction.CommitAsync(Token);
        }

        Assert.Equal(["t"], await ChaosStories.ReadTextAsync(c.Connection, Views, Token));
        await c.Connection.CloseAsync();
        await c.Connection.OpenAsync(Token);
        Assert.False(c.Chaos.SyncedOnOpen);
        Assert.Equal(["t"], c.Chaos.Made);
        Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(c.Connection, "SELECT x FROM t", Token));
    }, seeds: 2);

    [Theory]
    [InlineData("SELECT x FROM (SELECT x FROM t)")]
    [InlineData("WITH c AS (SELECT x FROM t) SELECT x FROM c")]
    [InlineData("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1) SELECT x FROM t, n")]
    [InlineData("SELECT (SELECT x FROM t LIMIT 1) UNION ALL SELECT (SELECT x FROM t LIMIT 1 OFFSET 1) UNION ALL SELECT (SELECT x FROM t LIMIT 1 OFFSET 2)")]
    [InlineData("SELECT x FROM \"t\"")]
    [InlineData("SELECT x FROM [t]")]
    [InlineData("SELECT x FROM `T`")]
    [InlineData("SELECT x FROM temp.t")]
    [InlineData("SELECT t.x FROM tags JOIN t ON 1 = 1")]
    [InlineData("SELECT x FROM t WHERE x IN (SELECT x FROM t)")]
    public Task A_table_named_only_inside_a_subquery_cte_join_or_quotes_gets_its_view(string sql) => ForSeedsAsync(async c =>
    {
        await ChaosStories.InsertDeleteReinsertAsync(c.Connection, Token);
        var lazy = await ChaosStories.ReadAsync(c.Connection, sql, Token);
        Assert.Contains("t", c.Chaos.Made);
        Assert.Contains("t", await ChaosStories.ReadTextAsync(c.Connection, Views, Token));
        Assert.Equal([1, 2, 3], lazy.Order());

        // The same as on a handle that had every view before the statement ran (after as many statements as the first
        // connection, so the per-statement reverse_unordered_selects coin is the same one).
        await using var other = (SqliteConnection)await c.Database.OpenConnectionAsync(Token);
        foreach (var table in new[] { "t", "tags", "foos" })
        {
            await ChaosStories.ScalarAsync(other, $"SELECT COUNT(*) FROM {table}", Token);
        }

        // A plain command does not count as a chaos statement.
        await using (var views = new SqliteCommand("SELECT group_concat(name) FROM (" + Views + ")", other))
        {
            Assert.Equal("foos,t,tags", await views.ExecuteScalarAsync(Token));
        }

        Assert.Equal(lazy, await ChaosStories.ReadAsync(other, sql, Token));
    }, seeds: 3);

    [Theory]
    [InlineData("SELECT x FROM (SELECT x FROM t)")]
    [InlineData("WITH c AS (SELECT x FROM t) SELECT x FROM c")]
    [InlineData("SELECT (SELECT x FROM t LIMIT 1) UNION ALL SELECT (SELECT x FROM t LIMIT 1 OFFSET 1) UNION ALL SELECT (SELECT x FROM t LIMIT 1 OFFSET 2)")]
    [InlineData("SELECT x FROM \"t\"")]
    [InlineData("SELECT x FROM temp.t")]
    public Task A_table_read_through_a_subquery_or_cte_is_shuffled(string sql) => ForSeedsAsync(async c =>
    {
        await ChaosStories.InsertDeleteReinsertAsync(c.Connection, Token);
        Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(c.Connection, sql, Token));
    }, seeds: 10);

    [Fact]
    public Task Writes_and_column_qualifiers_make_no_view_and_a_write_reading_another_table_makes_that_ones() => ForSeedsAsync(async c =>
    {
        await ChaosStories.ExecuteAsync(c.Connection, "INSERT INTO tags (name) VALUES ('a') ON CONFLICT (name) DO UPDATE SET uses = tags.uses + 1", Token);
        await ChaosStories.ExecuteAsync(c.Connection, "INSERT INTO tags (name) VALUES ('a') ON CONFLICT (name) DO UPDATE SET uses = tags.uses + 1", Token);
        Assert.Equal(4, await ChaosStories.ScalarAsync(c.Connection, "INSERT INTO t (x) VALUES (4) RETURNING x", Token));
        await ChaosStories.ExecuteAsync(c.Connection, "UPDATE main.tags SET uses = uses + 1 WHERE name = 'a'", Token);
        Assert.Empty(c.Chaos.Made);
        Assert.Empty(await ChaosStories.ReadTextAsync(c.Connection, Views, Token));

        await ChaosStories.ExecuteAsync(c.Connection, "UPDATE tags SET uses = (SELECT COUNT(*) FROM t) WHERE name = 'a'", Token);
        Assert.Equal(["t"], c.Chaos.Made);
        Assert.Equal(1, await ChaosStories.ScalarAsync(c.Connection, "SELECT uses FROM main.tags WHERE name = 'a'", Token));
        Assert.Equal(["t"], await ChaosStories.ReadTextAsync(c.Connection, Views, Token));
    }, seeds: 1);

    [Fact]
    public Task A_table_first_read_after_ddl_gets_a_view_of_its_new_shape() => ForSeedsAsync(async c =>
    {
        await ChaosStories.InsertDeleteReinsertAsync(c.Connection, Token);
        Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(c.Connection, "SELECT x FROM t", Token));

        // DDL on a table whose view exists: the view steps aside, and the next read makes it from the new schema.
        await ChaosStories.ExecuteAsync(c.Connection, "ALTER TABLE t ADD COLUMN y INT DEFAULT 7", Token);
        Assert.Empty(c.Chaos.Made);
        Assert.Equal([7, 7, 7], await ChaosStories.ReadAsync(c.Connection, "SELECT y FROM t", Token));
        Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(c.Connection, "SELECT x FROM t", Token));

        // A table made in the test is shadowed, and first read after its DDL.
        await ChaosStories.ExecuteAsync(c.Connection, "CREATE TABLE extra (x INT)", Token);
        Assert.Contains("extra", c.Chaos.Shadowed);
        await ChaosStories.ExecuteAsync(c.Connection, "INSERT INTO extra (x) VALUES (1), (2), (3); DELETE FROM extra WHERE x = 1; INSERT INTO extra (x) VALUES (1)", Token);
        Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(c.Connection, "SELECT x FROM extra", Token));
        Assert.Contains("extra", await ChaosStories.ReadTextAsync(c.Connection, Views, Token));
    });

    [Fact]
    public Task Ddl_rolled_back_in_a_transaction_leaves_the_tables_shuffled() => ForSeedsAsync(async c =>
    {
        await ChaosStories.InsertDeleteReinsertAsync(c.Connection, Token);
        Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(c.Connection, "SELECT x FROM t", Token));
        await using (var transaction = (SqliteTransaction)await c.Connection.BeginTransactionAsync(Token))
        {
            await using (var alter = c.Connection.CreateCommand())
            {
                alter.Transaction = transaction;
                alter.CommandText = "ALTER TABLE t ADD COLUMN z INT";
                await alter.ExecuteNonQueryAsync(Token);
            }

            await ReadInAsync(c.Connection, transaction, "SELECT z FROM t");
            await transaction.RollbackAsync(Token);
        }

        await Assert.ThrowsAsync<SqliteException>(() => ChaosStories.ReadAsync(c.Connection, "SELECT z FROM t", Token));
        Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(c.Connection, "SELECT x FROM t", Token));
        await ChaosStories.ExecuteAsync(c.Connection, "INSERT INTO t (x) VALUES (4)", Token);
        Assert.Equal([1, 2, 3, 4], await ChaosStories.ReadAsync(c.Connection, "SELECT x FROM t ORDER BY x", Token));
    });

    [Fact]
    public async Task A_command_whose_text_was_set_before_the_connection_opened_is_planned_when_it_runs()
    {
        for (var seed = 1; seed <= 5; seed++)
        {
            var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, seed, inlineReads: false);
            await using (pool)
            {
                await using var database = await pool.RentAsync(Token);
                await using var connection = database.CreateConnection();
                await using var insert = connection.CreateCommand();
                insert.CommandText = "INSERT INTO t (x) VALUES (1), (2), (3); DELETE FROM t WHERE x = 1; INSERT INTO t (x) VALUES (1)";
                await using var read = connection.CreateCommand();
                read.CommandText = "SELECT x FROM t";
                await connection.OpenAsync(Token);

                // Made after the view exists, the write would fail on the view unless it is rewritten when it runs.
                await using (var first = connection.CreateCommand())
                {
                    first.CommandText = "SELECT COUNT(*) FROM t";
                    Assert.Equal(0L, await first.ExecuteScalarAsync(Token));
                }

                await insert.ExecuteNonQueryAsync(Token);
                var values = new List<long>();
                await using (var reader = await read.ExecuteReaderAsync(Token))
                {
                    while (await reader.ReadAsync(Token))
                    {
                        values.Add(reader.GetInt64(0));
                    }
                }

                Assert.NotEqual(ChaosStories.InsertionOrder, values);
                Assert.Equal([1, 2, 3], values.Order());
            }
        }
    }

    [Fact]
    public Task A_reader_stays_readable_while_another_statement_makes_a_view() => ForSeedsAsync(async c =>
    {
        await ChaosStories.InsertDeleteReinsertAsync(c.Connection, Token);
        var values = new List<long>();
        await using (var command = c.Connection.CreateCommand())
        {
            command.CommandText = "SELECT x FROM t";
            await using var reader = await command.ExecuteReaderAsync(Token);
            while (await reader.ReadAsync(Token))
            {
                values.Add(reader.GetInt64(0));
                Assert.Equal(1, await ChaosStories.ScalarAsync(c.Connection, "SELECT COUNT(*) FROM tags", Token));
            }
        }

        Assert.Equal([1, 2, 3], values.Order());
        Assert.NotEqual(ChaosStories.InsertionOrder, values);
        Assert.Equal(["t", "tags"], c.Chaos.Made.Order(StringComparer.Ordinal));
    }, seeds: 3);
}
