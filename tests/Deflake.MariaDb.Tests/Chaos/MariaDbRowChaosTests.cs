using System.Collections.Concurrent;
using System.Data.Common;
using Deflake.Chaos.Stories;
using Deflake.Contract;
using Microsoft.Extensions.Logging.Abstractions;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb.Tests.Chaos;

/// <summary>Rows chaos on the real MariaDB server: every table read through a view in descending key order.</summary>
public sealed class MariaDbRowChaosTests
{
    private const int Seeds = 100;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>
    /// Seed 001's table t (with a key, as InnoDB tables have), seed 000's foos/bars/audit_log, a natural-key table with seed
    /// data, a composite key, a table InnoDB clusters on its only NOT NULL unique key, and what rows chaos cannot guarantee: a table without a key, a MyISAM table and a view of the schema.
    /// </summary>
    private const string StorySql = """
        CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, x INT NOT NULL);
        CREATE TABLE foos (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, hits INT NOT NULL DEFAULT 0, UNIQUE KEY uq_name (name));
        CREATE TABLE bars (id INT AUTO_INCREMENT PRIMARY KEY, foo_id INT NOT NULL, FOREIGN KEY (foo_id) REFERENCES foos (id));
        CREATE TABLE audit_log (id BIGINT AUTO_INCREMENT PRIMARY KEY, entity VARCHAR(20) NOT NULL, entity_id BIGINT NOT NULL, action VARCHAR(20) NOT NULL);
        CREATE TABLE codes (code VARCHAR(10) NOT NULL PRIMARY KEY, label VARCHAR(20) NOT NULL);
        CREATE TABLE pairs (a INT NOT NULL, b INT NOT NULL, PRIMARY KEY (a, b));
        CREATE TABLE slugs (slug VARCHAR(20) NOT NULL, n INT, UNIQUE KEY uq_slug (slug));
        CREATE TABLE loose (x INT);
        CREATE TABLE extras (id INT PRIMARY KEY, x INT, secret INT INVISIBLE DEFAULT 5);
        CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(20)) ENGINE=MyISAM;
        CREATE VIEW foo_names AS SELECT id, name FROM foos;
        INSERT INTO codes (code, label) VALUES ('b', 'B'), ('a', 'A'), ('c', 'C');
        """;

    // The version follows the SQL: a delegate source's fingerprint is its name and version, and templates outlive test runs.
    private static readonly SchemaSource StorySchema = Schema("mariadb-rows-story", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(StorySql)))[..16], StorySql);

    private static SchemaSource Schema(string name, string version, string sql) => SchemaSource.FromDelegate(name, version, async (connection, ct) =>
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(ct);
    });

    private static Task<T> WithDatabaseAsync<T>(ChaosModes chaos, int seed, Func<DbConnection, Task<T>> test)
        => MariaDbTestServer.WithDatabaseAsync(StorySchema, chaos, seed, test, Token);

    /// <summary>
    /// Runs <paramref name="test"/> on a fresh clone for each of seeds 1..<see cref="Seeds"/>, through the engine, with the
    /// template the pool would use for that seed (rows alone: one template for all seeds, as the pool's fingerprint says).
    /// Returns the seeds for which it returned true.
    /// </summary>
    private static async Task<List<int>> SeedsWhereAsync(ChaosModes chaos, Func<DbConnection, int, Task<bool>> test)
    {
        await using var engine = await MariaDbTestServer.CreateEngineAsync();
        var version = await engine.StartAsync(new EngineContext(NullLogger.Instance, TimeProvider.System, chaos, 0), Token);
        var digest = await StorySchema.ComputeFingerprintAsync(Token);
        var hits = new ConcurrentBag<int>();
        await Parallel.ForEachAsync(Enumerable.Range(1, Seeds), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Token }, async (seed, _) =>
        {
            var templateChaos = chaos.HasFlag(ChaosModes.Rows) ? "rows" : "none";
            // As the pool computes it, Deflake's build included: a template of an older build is never reused.
            var fingerprint = Fingerprint.Compute($"{engine.Kind}@{TemplateCodeIdentity.Of(engine)}", version, digest, templateChaos);
            var template = await engine.EnsureTemplateAsync(new TemplateRequest(fingerprint, StorySchema, chaos, seed), Token);
            var clone = await engine.CreateCloneAsync(template, Token);
            try
            {
                await using var connection = engine.CreateConnection(clone);
                await connection.OpenAsync(Token);
                if (await test(connection, seed))
                {
                    hits.Add(seed);
                }
            }
            finally
            {
                await engine.DropCloneAsync(clone, Token);
            }
        });

        return [.. hits.Order()];
    }

    /// <summary>Seed 001's buggy test: after insert 1, 2, 3; delete 1; insert 1 it expects the heap order 2, 3, 1.</summary>
    private static async Task<bool> StoryPassesAsync(DbConnection connection)
    {
        await ChaosStories.InsertDeleteReinsertAsync(connection, Token);
        return (await ChaosStories.ReadAsync(connection, "SELECT x FROM t", Token)).SequenceEqual(ChaosStories.InsertionOrder);
    }

    [Fact]
    public async Task The_row_order_story_passes_without_chaos()
    {
        Assert.True(await WithDatabaseAsync(ChaosModes.None, 1, StoryPassesAsync));
        Assert.Empty(await SeedsWhereAsync(ChaosModes.None, async (c, _) => !await StoryPassesAsync(c)));
    }

    [Fact]
    public async Task The_row_order_story_fails_under_rows_for_100_of_100_seeds()
    {
        Assert.Empty(await SeedsWhereAsync(ChaosModes.Rows, async (c, _) => await StoryPassesAsync(c)));
        Assert.False(await WithDatabaseAsync(ChaosModes.Rows, 1, StoryPassesAsync));
    }

    [Fact]
    public async Task Limit_1_never_picks_the_first_inserted_row_under_rows_for_100_of_100_seeds()
    {
        var firstPicked = await SeedsWhereAsync(ChaosModes.Rows, async (c, _) =>
        {
            await ChaosStories.InsertDeleteReinsertAsync(c, Token);
            return await ChaosStories.ScalarAsync(c, "SELECT x FROM t LIMIT 1", Token) == ChaosStories.InsertionOrder[0];
        });

        Assert.Empty(firstPicked);
    }

    [Fact]
    public async Task Without_chaos_limit_1_picks_the_first_inserted_row()
    {
        Assert.Equal(ChaosStories.InsertionOrder[0], await WithDatabaseAsync(ChaosModes.None, 1, async c =>
        {
            await ChaosStories.InsertDeleteReinsertAsync(c, Token);
            return await ChaosStories.ScalarAsync(c, "SELECT x FROM t LIMIT 1", Token);
        }));
    }

    /// <summary>
    /// Beyond the story: per seed, 2–12 random natural keys (and key pairs) inserted in random order. Without chaos InnoDB
    /// returns them in key order; under rows neither the whole order nor the first row (plain, LIMIT 1, or driving a join)
    /// is ever the server's own.
    /// </summary>
    [Fact]
    public async Task Under_rows_no_seeded_set_of_rows_comes_back_in_the_servers_own_order_or_with_its_first_row_first()
    {
        async Task<bool> ServerOrderSeenAsync(DbConnection c, int seed)
        {
            var random = new Random(seed);
            var codes = Enumerable.Range(0, 1000).OrderBy(_ => random.Next()).Take(random.Next(2, 13)).Select(i => $"k{i:D4}").ToList();
            var pairs = codes.Select(_ => (A: random.Next(3), B: random.Next(1000))).Distinct().ToList();
            await ChaosStories.ExecuteAsync(c, "DELETE FROM codes", Token);
            await ChaosStories.ExecuteAsync(c, "INSERT INTO codes (code, label) VALUES " + string.Join(", ", codes.Select(k => $"('{k}', 'x')")), Token);
            await ChaosStories.ExecuteAsync(c, "INSERT INTO pairs (a, b) VALUES " + string.Join(", ", pairs.Select(p => $"({p.A}, {p.B})")), Token);
            var serverOrder = codes.Order(StringComparer.Ordinal).ToList();
            var read = await ChaosStories.ReadTextAsync(c, "SELECT code FROM codes", Token);
            var limit1 = await ChaosStories.ReadTextAsync(c, "SELECT code FROM codes WHERE label = 'x' LIMIT 1", Token);
            var joined = await ChaosStories.ReadTextAsync(c, "SELECT k.code FROM codes k JOIN codes j ON j.code = k.code", Token);
            var pairFirst = await ChaosStories.ReadAsync(c, "SELECT a * 1000 + b FROM pairs LIMIT 1", Token);
            var pairMin = pairs.Min(p => (long)p.A * 1000 + p.B);
            return read.SequenceEqual(serverOrder) || read.Count != codes.Count || limit1[0] == serverOrder[0] || joined[0] == serverOrder[0]
                || (pairs.Count > 1 && pairFirst[0] == pairMin);
        }

        Assert.Empty(await SeedsWhereAsync(ChaosModes.Rows, ServerOrderSeenAsync));
        // The same check sees the server's own order every time without chaos, so it could fail.
        Assert.Equal(Seeds, (await SeedsWhereAsync(ChaosModes.None, ServerOrderSeenAsync)).Count);
    }

    [Fact]
    public async Task A_query_ordered_by_a_unique_key_is_unaffected_under_rows_for_100_of_100_seeds()
    {
        var wrong = await SeedsWhereAsync(ChaosModes.Rows, async (c, _) =>
        {
            await ChaosStories.InsertDeleteReinsertAsync(c, Token);
            var byId = await ChaosStories.ReadAsync(c, "SELECT x FROM t ORDER BY id", Token);
            var byCode = await ChaosStories.ReadTextAsync(c, "SELECT code FROM codes ORDER BY code", Token);
            var byIdLimit = await ChaosStories.ReadAsync(c, "SELECT x FROM t ORDER BY id LIMIT 1", Token);
            return !byId.SequenceEqual(ChaosStories.InsertionOrder) || !byCode.SequenceEqual(["a", "b", "c"]) || byIdLimit[0] != ChaosStories.InsertionOrder[0];
        });

        Assert.Empty(wrong);
    }

    [Fact]
    public async Task Under_rows_inserts_updates_deletes_upserts_insert_select_and_last_insert_id_work_through_the_views()
    {
        var result = await WithDatabaseAsync(ChaosModes.Rows, 3, async c =>
        {
            await ChaosStories.ExecuteAsync(c, "INSERT INTO foos (name) VALUES ('a')", Token);
            var lastInsertId = await ChaosStories.ScalarAsync(c, "SELECT LAST_INSERT_ID()", Token);
            var returned = await ChaosStories.ScalarAsync(c, "INSERT INTO foos (name) VALUES ('b') RETURNING id", Token);
            await ChaosStories.ExecuteAsync(c, "INSERT INTO foos (name) VALUES ('c')", Token);
            await using var command = (MySqlCommand)c.CreateCommand();
            command.CommandText = "INSERT INTO foos (name) VALUES ('d')";
            await command.ExecuteNonQueryAsync(Token);
            var driverId = command.LastInsertedId;
            await ChaosStories.ExecuteAsync(c, "UPDATE foos SET name = 'bb' WHERE name = 'b'", Token);
            await ChaosStories.ExecuteAsync(c, "DELETE FROM foos WHERE name = 'c'", Token);
            await ChaosStories.ExecuteAsync(c, "INSERT INTO foos (name) VALUES ('a') ON DUPLICATE KEY UPDATE hits = hits + 1", Token);
            await ChaosStories.ExecuteAsync(c, $"REPLACE INTO foos (id, name) VALUES ({driverId}, 'dd')", Token);
            var names = await ChaosStories.ReadTextAsync(c, "SELECT CONCAT(id, ':', name, ':', hits) FROM foos ORDER BY id", Token);
            await ChaosStories.ExecuteAsync(c, "INSERT INTO audit_log (entity, entity_id, action) SELECT 'foo', id, 'copied' FROM foos", Token);
            var copied = await ChaosStories.ScalarAsync(c, "SELECT COUNT(*) FROM audit_log WHERE action = 'copied'", Token);
            return (lastInsertId, returned, driverId, names, copied);
        });

        Assert.Equal(1, result.lastInsertId);
        Assert.Equal(2, result.returned);
        Assert.Equal(4, result.driverId);
        Assert.Equal(["1:a:1", "2:bb:0", "4:dd:0"], result.names);
        Assert.Equal(3, result.copied);
    }

    [Fact]
    public async Task Under_rows_foreign_keys_are_still_enforced_through_the_views()
    {
        var (orphan, parent) = await WithDatabaseAsync(ChaosModes.Rows, 3, async c =>
        {
            var (fooId, _) = await ChaosStories.CreateFooAsync(c, "x", Token);
            var orphan = await Assert.ThrowsAsync<MySqlException>(() => ChaosStories.ExecuteAsync(c, "INSERT INTO bars (foo_id) VALUES (999999)", Token));
            var parent = await Assert.ThrowsAsync<MySqlException>(() => ChaosStories.ExecuteAsync(c, $"DELETE FROM foos WHERE id = {fooId}", Token));
            return (orphan, parent);
        });

        Assert.Equal(1452, orphan.Number); // cannot add a child row
        Assert.Equal(1451, parent.Number); // cannot delete a parent row
    }

    [Fact]
    public async Task Chaos_all_puts_ids_in_their_ranges_and_shuffles_the_order_together()
    {
        var plan = IdentityRangePlan.Create(5, ["audit_log.id", "bars.id", "foos.id", "notes.id", "t.id"]);
        var (ids, order, found, story) = await WithDatabaseAsync(ChaosModes.All, 5, async c =>
        {
            var ids = await ChaosStories.CreateFooAsync(c, "x", Token);
            await ChaosStories.CreateFooAsync(c, "y", Token);
            await ChaosStories.CreateFooAsync(c, "z", Token);
            var order = await ChaosStories.ReadAsync(c, "SELECT id FROM foos", Token);
            var found = await ChaosStories.AuditRowFoundByTheWrongIdAsync(c, Token);
            var story = await StoryPassesAsync(c);
            return (ids, order, found, story);
        });

        Assert.Equal((plan.StartOf("foos.id"), plan.StartOf("bars.id")), ids);
        Assert.Equal([ids.FooId + 2, ids.FooId + 1, ids.FooId], order);
        Assert.False(found);
        Assert.False(story);
    }

    [Fact]
    public async Task Rows_chaos_alone_starts_and_reads_without_order_by_come_back_in_descending_key_order()
    {
        var (story, codes, t, slugs) = await WithDatabaseAsync(ChaosModes.Rows, 9, async c =>
        {
            var story = await StoryPassesAsync(c);
            var codes = await ChaosStories.ReadTextAsync(c, "SELECT code FROM codes", Token);
            var t = await ChaosStories.ReadAsync(c, "SELECT x FROM t", Token);
            await ChaosStories.ExecuteAsync(c, "INSERT INTO slugs (slug, n) VALUES ('b', 1), ('a', 2), ('c', 3)", Token);
            var slugs = await ChaosStories.ReadAsync(c, "SELECT n FROM slugs", Token);
            return (story, codes, t, slugs);
        });

        Assert.False(story);
        Assert.Equal(["c", "b", "a"], codes); // the template's seed data came along into the hidden table
        Assert.Equal([1, 3, 2], t);
        Assert.Equal([3, 1, 2], slugs); // no primary key: InnoDB clusters on the NOT NULL unique slug (a, b, c), reversed
    }

    [Fact]
    public async Task Tables_and_views_rows_chaos_cannot_guarantee_are_reported_by_name_and_logged()
    {
        // A schema of its own, so this engine builds the template (the report describes a build).
        var schema = Schema("mariadb-rows-report:" + Guid.NewGuid().ToString("N"), "1", StorySql);
        var logs = new ListLoggerFactory();
        await using var engine = await MariaDbTestServer.CreateEngineAsync();
        await using var pool = await TestDatabasePool.CreateAsync(engine,
            new TestDatabaseOptions { Schema = schema, PoolSize = 1, Chaos = ChaosModes.Rows, Seed = 1, LoggerFactory = logs }, Token);
        await using var database = await pool.RentAsync(Token);
        await using var connection = await database.OpenConnectionAsync(Token);

        var report = engine.RowsReport;
        Assert.Equal(["extras", "foo_names", "loose", "notes"], report.NotCovered.Select(n => n[..n.IndexOf(' ', StringComparison.Ordinal)]).Order(StringComparer.Ordinal));
        Assert.Contains(report.NotCovered, n => n.StartsWith("notes (engine MyISAM", StringComparison.Ordinal));
        Assert.Contains(report.NotCovered, n => n.StartsWith("loose (no primary key", StringComparison.Ordinal));
        Assert.Contains(report.NotCovered, n => n.StartsWith("extras (not shuffled: its INVISIBLE column(s) `secret`", StringComparison.Ordinal));
        Assert.Equal("ORDER BY `code` DESC", report.Orders["codes"]);
        Assert.Equal("ORDER BY `a` DESC, `b` DESC", report.Orders["pairs"]);
        Assert.Equal("ORDER BY `x` DESC", report.Orders["loose"]);
        Assert.Equal("ORDER BY `slug` DESC", report.Orders["slugs"]);
        Assert.Equal(["audit_log", "bars", "codes", "foos", "loose", "notes", "pairs", "slugs", "t"], report.Orders.Keys.Order(StringComparer.Ordinal));
        var warning = Assert.Single(logs.Lines, l => l.StartsWith("Warning: Deflake rows", StringComparison.Ordinal));
        Assert.Contains("foo_names (a view", warning, StringComparison.Ordinal);
        Assert.Contains("loose (no primary key", warning, StringComparison.Ordinal);
        Assert.Contains("notes (engine MyISAM", warning, StringComparison.Ordinal);
        Assert.Contains("extras (not shuffled", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", warning, StringComparison.Ordinal);
        // What the clone holds: the tables under their hidden names, a view of each table's name.
        var objects = await ChaosStories.ReadTextAsync(connection,
            "SELECT CONCAT(TABLE_NAME, ':', TABLE_TYPE) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('t', '__deflake_rows_t', 'foo_names', 'extras', '__deflake_rows_extras')", Token);
        Assert.Equal(["__deflake_rows_t:BASE TABLE", "extras:BASE TABLE", "foo_names:VIEW", "t:VIEW"], objects.Order(StringComparer.Ordinal));
        // The table left as it is still takes writes naming its invisible column.
        await ChaosStories.ExecuteAsync(connection, "INSERT INTO extras (id, x, secret) VALUES (1, 1, 7)", Token);
        Assert.Equal(7, await ChaosStories.ScalarAsync(connection, "SELECT secret FROM extras", Token));
    }

    [Fact]
    public async Task Under_rows_the_schemas_own_views_still_read_and_write()
    {
        var (names, inserted) = await WithDatabaseAsync(ChaosModes.Rows, 2, async c =>
        {
            await ChaosStories.ExecuteAsync(c, "INSERT INTO foos (name) VALUES ('a'), ('b')", Token);
            await ChaosStories.ExecuteAsync(c, "INSERT INTO foo_names (name) VALUES ('c')", Token);
            var names = await ChaosStories.ReadTextAsync(c, "SELECT name FROM foo_names ORDER BY name", Token);
            var inserted = await ChaosStories.ScalarAsync(c, "SELECT COUNT(*) FROM foos WHERE name = 'c'", Token);
            return (names, inserted);
        });

        Assert.Equal(["a", "b", "c"], names);
        Assert.Equal(1, inserted);
    }

    [Fact]
    public async Task Under_rows_truncate_fails_because_the_name_is_a_view_as_docs_chaos_md_says()
    {
        var (error, afterDelete) = await WithDatabaseAsync(ChaosModes.Rows, 2, async c =>
        {
            await ChaosStories.InsertDeleteReinsertAsync(c, Token);
            var error = await Assert.ThrowsAsync<MySqlException>(() => ChaosStories.ExecuteAsync(c, "TRUNCATE t", Token));
            await ChaosStories.ExecuteAsync(c, "DELETE FROM t", Token);
            return (error, await ChaosStories.ScalarAsync(c, "SELECT COUNT(*) FROM t", Token));
        });

        Assert.Equal(1146, error.Number); // "Table '….t' doesn't exist": TRUNCATE looks for a base table only
        Assert.Equal(0, afterDelete);
    }

    [Fact]
    public async Task Under_rows_ddl_on_a_table_fails_because_the_name_is_a_view_as_docs_chaos_md_says()
    {
        var (alter, index) = await WithDatabaseAsync(ChaosModes.Rows, 2, async c =>
        {
            var alter = await Assert.ThrowsAsync<MySqlException>(() => ChaosStories.ExecuteAsync(c, "ALTER TABLE t ADD COLUMN y INT", Token));
            var index = await Assert.ThrowsAsync<MySqlException>(() => ChaosStories.ExecuteAsync(c, "CREATE INDEX ix_x ON t (x)", Token));
            return (alter, index);
        });

        Assert.Equal(1347, alter.Number); // "'….t' is not of type 'BASE TABLE'"
        Assert.Equal(1347, index.Number);
    }

    /// <summary>What docs/chaos.md lists as not shuffled, measured: MariaDB drops a view's ORDER BY there.</summary>
    [Fact]
    public async Task Under_rows_derived_tables_group_concat_union_and_the_schemas_views_keep_the_servers_order_as_docs_say()
    {
        var reads = await WithDatabaseAsync(ChaosModes.Rows, 2, async c =>
        {
            await ChaosStories.InsertDeleteReinsertAsync(c, Token);
            await ChaosStories.ExecuteAsync(c, "INSERT INTO foos (name) VALUES ('a'), ('b'), ('c')", Token);
            return new[]
            {
                string.Join(",", await ChaosStories.ReadAsync(c, "SELECT x FROM (SELECT x FROM t) d", Token)),
                (await ChaosStories.ReadTextAsync(c, "SELECT GROUP_CONCAT(x) FROM t", Token))[0],
                string.Join(",", await ChaosStories.ReadAsync(c, "SELECT x FROM t UNION ALL SELECT 9", Token)),
                string.Join(",", await ChaosStories.ReadTextAsync(c, "SELECT name FROM foo_names", Token)),
                string.Join(",", await ChaosStories.ReadAsync(c, "SELECT x FROM t", Token)),
                string.Join(",", await ChaosStories.ReadTextAsync(c, "SELECT name FROM foos", Token)),
            };
        });

        // Shuffled for comparison: the plain reads of the same tables.
        Assert.Equal(["2,3,1", "2,3,1", "2,3,1,9", "a,b,c", "1,3,2", "c,b,a"], reads);
    }

    [Fact]
    public async Task Under_rows_the_inner_table_of_a_join_and_the_middle_of_three_rows_keep_the_servers_order_as_docs_say()
    {
        var (joined, middle) = await WithDatabaseAsync(ChaosModes.Rows, 2, async c =>
        {
            await ChaosStories.ExecuteAsync(c, "INSERT INTO foos (id, name) VALUES (1, 'a'), (2, 'b')", Token);
            await ChaosStories.ExecuteAsync(c, "INSERT INTO bars (id, foo_id) VALUES (10, 1), (11, 2), (12, 1), (13, 1)", Token);
            var joined = await ChaosStories.ReadTextAsync(c, "SELECT CONCAT(f.id, ':', b.id) FROM foos f STRAIGHT_JOIN bars b ON b.foo_id = f.id", Token);
            await ChaosStories.InsertDeleteReinsertAsync(c, Token);
            var middle = (await ChaosStories.ReadAsync(c, "SELECT x FROM t", Token))[1];
            return (joined, middle);
        });

        // The driving table (foos) comes in descending key order; each foo's bars come in index order, ascending.
        Assert.Equal(["2:11", "1:10", "1:12", "1:13"], joined);
        // Reversed, 2, 3, 1 becomes 1, 3, 2: a test that checks only the 2nd of 3 rows is not exposed.
        Assert.Equal(ChaosStories.InsertionOrder[1], middle);
    }

    [Fact]
    public async Task Templates_with_and_without_rows_never_mix()
    {
        var schema = Schema("mariadb-rows-mix:" + Guid.NewGuid().ToString("N"), "1", "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, x INT NOT NULL)");
        async Task<(string Template, List<long> Read)> ReadAsync(ChaosModes chaos)
        {
            await using var pool = await MariaDbTestServer.CreatePoolAsync(MariaDbEngineTests.Options(schema, chaos), Token);
            await using var database = await pool.RentAsync(Token);
            await using var connection = await database.OpenConnectionAsync(Token);
            await ChaosStories.InsertDeleteReinsertAsync(connection, Token);
            return (pool.Template.Name, await ChaosStories.ReadAsync(connection, "SELECT x FROM t", Token));
        }

        var none = await ReadAsync(ChaosModes.None);
        var rows = await ReadAsync(ChaosModes.Rows);
        var noneAgain = await ReadAsync(ChaosModes.None);

        Assert.NotEqual(none.Template, rows.Template);
        Assert.Equal(none.Template, noneAgain.Template);
        Assert.Equal(ChaosStories.InsertionOrder, none.Read);
        Assert.Equal(ChaosStories.InsertionOrder, noneAgain.Read);
        Assert.Equal([1, 3, 2], rows.Read);
    }

    [Fact]
    public async Task A_table_name_too_long_to_hide_fails_the_pool_start_with_one_line_naming_it()
    {
        var name = "t" + new string('n', 49);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await MariaDbTestServer.CreatePoolAsync(
            MariaDbEngineTests.Options(MariaDbEngineTests.Sql($"CREATE TABLE {name} (id INT PRIMARY KEY)"), ChaosModes.Rows), Token));

        Assert.Contains($"table `{name}`", error.Message, StringComparison.Ordinal);
        Assert.Contains("64", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        // 49 characters fit.
        await using var pool = await MariaDbTestServer.CreatePoolAsync(
            MariaDbEngineTests.Options(MariaDbEngineTests.Sql($"CREATE TABLE {name[..49]} (id INT PRIMARY KEY)"), ChaosModes.Rows), Token);
    }

    [Fact]
    public async Task A_schema_object_already_named_like_a_hidden_table_fails_the_pool_start_with_one_line_naming_it()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await MariaDbTestServer.CreatePoolAsync(
            MariaDbEngineTests.Options(MariaDbEngineTests.Sql("CREATE TABLE foo (id INT PRIMARY KEY); CREATE VIEW __deflake_rows_foo AS SELECT id FROM foo"), ChaosModes.Rows), Token));

        Assert.Contains("view `__deflake_rows_foo`", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task A_generated_foreign_key_name_too_long_to_hide_fails_the_pool_start_with_one_line_naming_the_table()
    {
        var name = "c" + new string('n', 44);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await MariaDbTestServer.CreatePoolAsync(
            MariaDbEngineTests.Options(MariaDbEngineTests.Sql($"CREATE TABLE p (id INT PRIMARY KEY); CREATE TABLE {name} (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES p (id))"), ChaosModes.Rows), Token));

        Assert.Contains($"table `{name}`", error.Message, StringComparison.Ordinal);
        Assert.Contains("_ibfk_1", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }
}
