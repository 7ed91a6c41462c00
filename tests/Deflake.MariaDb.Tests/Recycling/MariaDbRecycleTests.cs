using System.Data.Common;
using System.Globalization;
using System.Text;
using Deflake.MariaDb.Internal;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb.Tests.Recycling;

public sealed class MariaDbRecycleTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    internal const string ShopSchema = """
        CREATE TABLE parents (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL, upper_name VARCHAR(20) AS (UPPER(name)) VIRTUAL);
        CREATE TABLE children (id BIGINT AUTO_INCREMENT PRIMARY KEY, parent_id INT NOT NULL, note VARCHAR(20),
          CONSTRAINT fk_children_parent FOREIGN KEY (parent_id) REFERENCES parents (id) ON DELETE CASCADE);
        CREATE TABLE events (at INT NOT NULL, what VARCHAR(20) NOT NULL);
        CREATE TABLE notes (code VARCHAR(10) PRIMARY KEY, body VARCHAR(50));
        INSERT INTO parents (name) VALUES ('ada'), ('bob'), ('cy');
        DELETE FROM parents WHERE id = 3;
        INSERT INTO children (parent_id, note) VALUES (1, 'x'), (2, 'y'), (1, 'z');
        INSERT INTO events VALUES (3, 'c'), (1, 'a'), (2, 'b');
        CREATE VIEW parent_names AS SELECT name FROM parents;
        """;

    internal static TestDatabaseOptions Options(ChaosModes chaos = ChaosModes.None, int seed = 1)
        => MariaDbEngineTests.Options(MariaDbEngineTests.Sql(ShopSchema), chaos, seed);

    [Fact]
    public async Task A_returned_database_comes_back_under_the_same_name_with_the_template_rows_and_counters()
    {
        await using var pool = await MariaDbTestServer.CreateRecyclingPoolAsync(Options(), Token);
        string name;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
            await using var connection = await first.OpenConnectionAsync(Token);
            await ExecuteAsync(connection, """
                INSERT INTO parents (name) VALUES ('eve');
                UPDATE children SET note = 'changed';
                DELETE FROM parents WHERE id = 1;
                INSERT INTO notes VALUES ('n', 'x');
                TRUNCATE TABLE events;
                """);
        }

        await using var second = await RentAsync(pool, name);
        await using var again = await second.OpenConnectionAsync(Token);
        Assert.Equal("ada,bob", await ScalarAsync(again, "SELECT GROUP_CONCAT(name ORDER BY id) FROM parents"));
        Assert.Equal("x,y,z", await ScalarAsync(again, "SELECT GROUP_CONCAT(note ORDER BY id) FROM children"));
        Assert.Equal("c,a,b", await ScalarAsync(again, "SELECT GROUP_CONCAT(what) FROM events"));
        Assert.Equal(0L, Convert.ToInt64(await ScalarAsync(again, "SELECT COUNT(*) FROM notes"), CultureInfo.InvariantCulture));
        // The template's counter (4: row 3 was deleted), not 1 after the delete nor 5 after the test's insert.
        Assert.Equal(4L, Convert.ToInt64(await ScalarAsync(again, "INSERT INTO parents (name) VALUES ('new') RETURNING id"), CultureInfo.InvariantCulture));
        Assert.Equal(4L, Convert.ToInt64(await ScalarAsync(again, "INSERT INTO children (parent_id) VALUES (1) RETURNING id"), CultureInfo.InvariantCulture));
        Assert.True(pool.Statistics.Recycled >= 1);
    }

    [Fact]
    public async Task By_default_a_returned_database_comes_back_under_its_name()
    {
        await using var pool = await MariaDbTestServer.CreatePoolAsync(Options(), Token);
        Assert.True(pool.Recycle);
        string name;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
            await using var connection = await first.OpenConnectionAsync(Token);
            await ExecuteAsync(connection, "INSERT INTO notes VALUES ('default', 'written')");
        }

        await WaitAsync(() => pool.Statistics.Recycled >= 1);
        await using var second = await pool.RentAsync(Token);
        Assert.Equal(name, second.Name);
        await using var again = await second.OpenConnectionAsync(Token);
        Assert.Equal(0L, Convert.ToInt64(await ScalarAsync(again, "SELECT COUNT(*) FROM notes WHERE code = 'default'"), CultureInfo.InvariantCulture));
        Assert.Equal(0L, pool.Statistics.Dropped);
    }

    [Fact]
    public async Task With_RestoreClones_off_a_returned_database_is_dropped_and_the_next_test_gets_a_new_clone()
    {
        await using var pool = await TestDatabasePool.CreateAsync(await MariaDbTestServer.CreateEngineAsync(o => o.RestoreClones = false), Options(), Token);
        Assert.False(pool.Recycle);
        string name;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
        }

        await using var second = await pool.RentAsync(Token);
        Assert.NotEqual(name, second.Name);
        await WaitAsync(() => pool.Statistics.Dropped >= 1);
        Assert.Equal(0L, pool.Statistics.Recycled);
    }

    [Fact]
    public async Task DDL_in_a_test_makes_a_new_clone_instead()
    {
        await using var pool = await MariaDbTestServer.CreateRecyclingPoolAsync(Options(), Token);
        string name;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
            await using var connection = await first.OpenConnectionAsync(Token);
            await ExecuteAsync(connection, "ALTER TABLE notes ALTER COLUMN body SET DEFAULT 'changed'");
        }

        await using var second = await pool.RentAsync(Token);
        Assert.NotEqual(name, second.Name);
        await using var again = await second.OpenConnectionAsync(Token);
        Assert.Equal(0L, Convert.ToInt64(await ScalarAsync(again, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_DEFAULT LIKE '%changed%'"), CultureInfo.InvariantCulture));
        await WaitAsync(() => pool.Statistics.Dropped >= 1);
        Assert.Equal(0L, pool.Statistics.Recycled);
        Assert.DoesNotContain(name, await MariaDbTestServer.DatabaseNamesAsync("deflake_", Token));
    }

    [Fact]
    public async Task Connections_left_in_the_apps_pool_or_inside_a_transaction_neither_block_the_restore_nor_reach_the_next_test()
    {
        await using var pool = await MariaDbTestServer.CreateRecyclingPoolAsync(Options(), Token);
        string name;
        MySqlConnection leaked;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
            leaked = new MySqlConnection(first.ConnectionString);
            await leaked.OpenAsync(Token);
            await ExecuteAsync(leaked, "START TRANSACTION; INSERT INTO notes VALUES ('u', 'uncommitted'); SELECT * FROM parents FOR UPDATE;");

            // Returned to MySql.Data's pool with session state a next test must not see.
            await using var pooled = new MySqlConnection(first.ConnectionString);
            await pooled.OpenAsync(Token);
            await ExecuteAsync(pooled, "SET @deflake_leak = 1; CREATE TEMPORARY TABLE leak_tmp (id INT); SET SESSION sql_mode = 'ANSI'; INSERT INTO notes VALUES ('c', 'committed'); SELECT GET_LOCK('deflake_test_leak', 0);");
        }

        await using var second = await RentAsync(pool, name);
        await using (var again = new MySqlConnection(second.ConnectionString))
        {
            await again.OpenAsync(Token);
            Assert.Equal(0L, Convert.ToInt64(await ScalarAsync(again, "SELECT COUNT(*) FROM notes"), CultureInfo.InvariantCulture));
            Assert.Equal(2L, Convert.ToInt64(await ScalarAsync(again, "SELECT COUNT(*) FROM parents WHERE id > 0 FOR UPDATE"), CultureInfo.InvariantCulture));
            Assert.Null(await ScalarAsync(again, "SELECT @deflake_leak"));
            Assert.DoesNotContain("ANSI", (string)(await ScalarAsync(again, "SELECT @@SESSION.sql_mode"))!, StringComparison.Ordinal);
            Assert.Equal(1L, Convert.ToInt64(await ScalarAsync(again, "SELECT IS_FREE_LOCK('deflake_test_leak')"), CultureInfo.InvariantCulture));
            var error = await Assert.ThrowsAsync<MySqlException>(() => ScalarAsync(again, "SELECT COUNT(*) FROM leak_tmp"));
            Assert.Equal(1146, error.Number);
        }

        Assert.True(pool.Statistics.Recycled >= 1);
        await Assert.ThrowsAnyAsync<Exception>(() => ExecuteAsync(leaked, "COMMIT"));
        await leaked.DisposeAsync();
    }

    [Fact]
    public async Task An_idle_pooled_session_is_kept_for_the_next_test_with_its_state_reset_and_a_busy_one_is_ended()
    {
        await using (var admin = await MariaDbTestServer.OpenAdminAsync(Token))
        {
            var seesLocks = await global::Deflake.MariaDb.Recycling.MariaDbRecycling.SeesLocksAsync(admin, Token);
            // The throwaway server loads the plugin (this fails when it does not); a server of one's own may lack it.
            Assert.SkipWhen(!seesLocks && MariaDbTestServer.IsOwnServer, "DEFLAKE_MARIADB's server has no metadata_lock_info plugin: its restores end every session");
            Assert.True(seesLocks, "the throwaway server should have loaded the metadata_lock_info plugin");
        }

        await using var pool = await MariaDbTestServer.CreateRecyclingPoolAsync(Options(), Token);
        string name;
        long idleSession;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
            await using var connection = await first.OpenConnectionAsync(Token);
            idleSession = Convert.ToInt64(await ScalarAsync(connection, "SELECT CONNECTION_ID()"), CultureInfo.InvariantCulture);
            await ExecuteAsync(connection, "SET @deflake_leak = 1; CREATE TEMPORARY TABLE leak_tmp (id INT); SET SESSION sql_mode = 'ANSI'; INSERT INTO notes VALUES ('c', 'committed');");
        }

        long busySession;
        await using (var second = await RentAsync(pool, name))
        {
            await using var again = await second.OpenConnectionAsync(Token);
            // The same server session (no new connection to pay for), with none of the last test's state.
            Assert.Equal(idleSession, Convert.ToInt64(await ScalarAsync(again, "SELECT CONNECTION_ID()"), CultureInfo.InvariantCulture));
            Assert.Null(await ScalarAsync(again, "SELECT @deflake_leak"));
            Assert.DoesNotContain("ANSI", (string)(await ScalarAsync(again, "SELECT @@SESSION.sql_mode"))!, StringComparison.Ordinal);
            Assert.Equal(1146, (await Assert.ThrowsAsync<MySqlException>(() => ScalarAsync(again, "SELECT COUNT(*) FROM leak_tmp"))).Number);
            Assert.Equal(0L, Convert.ToInt64(await ScalarAsync(again, "SELECT COUNT(*) FROM notes"), CultureInfo.InvariantCulture));

            // Returned to the pool holding a user lock (MySql.Data rolls an open transaction back when a connection is
            // closed, but a lock stays): busy, so it must not survive, and the lock must not reach the next test.
            busySession = idleSession;
            await ExecuteAsync(again, "SELECT GET_LOCK('deflake_busy_session', 0); INSERT INTO notes VALUES ('u', 'u')");
        }

        await using var third = await RentAsync(pool, name);
        await using var last = await third.OpenConnectionAsync(Token);
        Assert.NotEqual(busySession, Convert.ToInt64(await ScalarAsync(last, "SELECT CONNECTION_ID()"), CultureInfo.InvariantCulture));
        Assert.Equal(1L, Convert.ToInt64(await ScalarAsync(last, "SELECT IS_FREE_LOCK('deflake_busy_session')"), CultureInfo.InvariantCulture));
        Assert.Equal(0L, Convert.ToInt64(await ScalarAsync(last, "SELECT COUNT(*) FROM notes"), CultureInfo.InvariantCulture));
        Assert.True(pool.Statistics.Recycled >= 2);
    }

    [Fact]
    public async Task Where_idle_sessions_may_not_be_kept_every_session_is_ended_and_the_next_test_gets_a_new_one()
    {
        // As on a server without the metadata_lock_info plugin: the clone's connection string has no ConnectionReset.
        await using var pool = await TestDatabasePool.CreateAsync(
            await MariaDbTestServer.CreateEngineAsync(o => { o.RestoreClones = true; o.KeepIdleSessions = false; }), Options(), Token);
        string name;
        long session;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
            Assert.False(new MySqlConnectionStringBuilder(first.ConnectionString).ConnectionReset);
            await using var connection = await first.OpenConnectionAsync(Token);
            session = Convert.ToInt64(await ScalarAsync(connection, "SELECT CONNECTION_ID()"), CultureInfo.InvariantCulture);
            await ExecuteAsync(connection, "SET @deflake_leak = 1; INSERT INTO notes VALUES ('c', 'committed');");
        }

        await using var second = await RentAsync(pool, name);
        await using var again = await second.OpenConnectionAsync(Token);
        Assert.NotEqual(session, Convert.ToInt64(await ScalarAsync(again, "SELECT CONNECTION_ID()"), CultureInfo.InvariantCulture));
        Assert.Null(await ScalarAsync(again, "SELECT @deflake_leak"));
        Assert.Equal(0L, Convert.ToInt64(await ScalarAsync(again, "SELECT COUNT(*) FROM notes"), CultureInfo.InvariantCulture));
        Assert.True(pool.Statistics.Recycled >= 1);
    }

    /// <summary>
    /// Rents and returns until the pool hands out <paramref name="name"/> (the restore runs in the background).
    /// </summary>
    internal static async Task<TestDatabase> RentAsync(TestDatabasePool pool, string name)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var database = await pool.RentAsync(Token);
            if (database.Name == name)
            {
                return database;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{name} did not come back within 30 s (statistics {pool.Statistics})");
            await database.DisposeAsync();
            await Task.Delay(10, Token);
        }
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 30 s");
            await Task.Delay(20, Token);
        }
    }

    internal static async Task ExecuteAsync(DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Token);
    }

    internal static async Task<object?> ScalarAsync(DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var value = await command.ExecuteScalarAsync(Token);
        return value is DBNull ? null : value;
    }

    /// <summary>
    /// Everything a test could observe of a database, as text: each object's definition (the database's name replaced, the
    /// AUTO_INCREMENT counter kept), each table's and view's rows in the order an unordered SELECT returns them, triggers.
    /// </summary>
    internal static async Task<string> DescribeAsync(DbConnection connection, string database)
    {
        var text = new StringBuilder();
        var objects = new List<(string Name, string Type)>();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SHOW FULL TABLES";
            await using var reader = await command.ExecuteReaderAsync(Token);
            while (await reader.ReadAsync(Token))
            {
                objects.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        foreach (var (name, type) in objects.OrderBy(o => o.Name, StringComparer.Ordinal))
        {
            await using (var command = connection.CreateCommand())
            {
                command.CommandText = (type == "VIEW" ? "SHOW CREATE VIEW " : "SHOW CREATE TABLE ") + Quote.Identifier(name);
                await using var reader = await command.ExecuteReaderAsync(Token);
                await reader.ReadAsync(Token);
                text.Append(type).Append(' ').AppendLine(reader.GetString(1).Replace(database, "<db>", StringComparison.Ordinal));
            }

            await using (var command = connection.CreateCommand())
            {
                command.CommandText = "SELECT * FROM " + Quote.Identifier(name);
                await using var reader = await command.ExecuteReaderAsync(Token);
                while (await reader.ReadAsync(Token))
                {
                    for (var i = 0; i < reader.FieldCount; i++)
                    {
                        text.Append(reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture)).Append('|');
                    }

                    text.AppendLine();
                }
            }
        }

        text.Append("triggers ").AppendLine(Convert.ToString(await ScalarAsync(connection, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"), CultureInfo.InvariantCulture));
        text.Append("leak ").AppendLine(Convert.ToString(await ScalarAsync(connection, "SELECT @deflake_leak"), CultureInfo.InvariantCulture));
        return text.ToString();
    }
}
