using Deflake.Contract;
using Npgsql;

namespace Deflake.Postgres.Tests.Recycling;

public sealed class PostgresRecycleTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private const string ShopSchema = """
        create table customers (id serial primary key, name text not null);
        create table orders (id bigint generated always as identity primary key, customer_id int not null references customers (id) on delete cascade,
                             total numeric not null, doubled numeric generated always as (total * 2) stored);
        create table notes (id int primary key, body text);
        insert into customers (name) values ('ada'), ('bob');
        insert into orders (customer_id, total) values (1, 10), (2, 20);
        """;

    [Fact]
    public async Task A_returned_database_comes_back_under_the_same_name_with_the_template_rows_and_sequences()
    {
        await using var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh(ShopSchema), poolSize: 1), Token);
        string name;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
            await using var connection = await first.OpenConnectionAsync(Token);
            await TestSchemas.ExecuteAsync(connection, """
                insert into customers (name) values ('eve');
                update orders set total = 99;
                delete from customers where id = 1;
                insert into notes values (1, 'x');
                select nextval('customers_id_seq');
                """, Token);
        }

        await using var second = await RentAsync(pool, name);
        await using var again = await second.OpenConnectionAsync(Token);
        Assert.Equal("ada,bob", await TestSchemas.ScalarAsync<string>(again, "select string_agg(name, ',' order by id) from customers", Token));
        Assert.Equal("10:20,20:40", await TestSchemas.ScalarAsync<string>(again, "select string_agg(total || ':' || doubled, ',' order by id) from orders", Token));
        Assert.Equal(0L, await TestSchemas.ScalarAsync<long>(again, "select count(*) from notes", Token));
        Assert.Equal(3, await TestSchemas.ScalarAsync<int>(again, "insert into customers (name) values ('new') returning id", Token));
        Assert.Equal(3L, await TestSchemas.ScalarAsync<long>(again, "insert into orders (customer_id, total) values (1, 1) returning id", Token));
        Assert.True(pool.Statistics.Recycled >= 1);
    }

    [Fact]
    public async Task A_restore_leaves_no_record_of_its_own_writes()
    {
        // The restore truncates, refills and deletes with the clone's mark triggers in place: were its writes recorded,
        // every restore would redo the last one's work, and the record would grow by a row a table each time.
        await using var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh(ShopSchema), poolSize: 1), Token);
        string name;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
            await using var connection = await first.OpenConnectionAsync(Token);
            await TestSchemas.ExecuteAsync(connection, "update orders set total = 1; insert into notes values (1, 'x'); insert into customers (name) values ('eve')", Token);
            Assert.True(await TestSchemas.ScalarAsync<long>(connection, "select count(*) from deflake_recycle.dirty", Token) >= 3);
        }

        await using var second = await RentAsync(pool, name);
        await using var again = await second.OpenConnectionAsync(Token);
        Assert.Equal(0L, await TestSchemas.ScalarAsync<long>(again, "select count(*) from deflake_recycle.dirty", Token));
        Assert.Equal("10,20", await TestSchemas.ScalarAsync<string>(again, "select string_agg(total::text, ',' order by id) from orders", Token));
        // The test's own writes are still recorded after that: the restore's mark is its session's alone.
        await TestSchemas.ExecuteAsync(again, "insert into notes values (2, 'y')", Token);
        Assert.Equal(1L, await TestSchemas.ScalarAsync<long>(again, "select count(*) from deflake_recycle.dirty", Token));
    }

    [Fact]
    public async Task DDL_in_a_test_makes_a_new_clone_instead_and_says_so_at_debug_level()
    {
        var log = new ListLoggerFactory();
        var options = TestSchemas.Options(TestSchemas.Fresh(ShopSchema), poolSize: 1);
        options.LoggerFactory = log;
        await using var pool = await PostgresTestServer.CreatePoolAsync(options, Token);
        string name;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
            await using var connection = await first.OpenConnectionAsync(Token);
            await TestSchemas.ExecuteAsync(connection, "alter table notes add column extra int", Token);
        }

        await using var second = await pool.RentAsync(Token);
        Assert.NotEqual(name, second.Name);
        await using var again = await second.OpenConnectionAsync(Token);
        Assert.Equal(0L, await TestSchemas.ScalarAsync<long>(again, "select count(*) from information_schema.columns where table_name = 'notes' and column_name = 'extra'", Token));
        await WaitAsync(() => pool.Statistics.Dropped >= 1);
        Assert.Equal(0, pool.Statistics.Recycled);
        Assert.Contains($"Debug: Deflake re-clones instead of recycling {name}: the test ran DDL", log.Lines);
    }

    [Fact]
    public async Task With_recycling_off_every_test_gets_a_new_clone()
    {
        var options = TestSchemas.Options(TestSchemas.Fresh(ShopSchema), poolSize: 1);
        options.Recycle = false;
        await using var pool = await PostgresTestServer.CreatePoolAsync(options, Token);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 4; i++)
        {
            await using var database = await pool.RentAsync(Token);
            Assert.True(names.Add(database.Name), $"{database.Name} was handed out twice");
        }

        await WaitAsync(() => pool.Statistics.Dropped >= 4);
        Assert.Equal(0, pool.Statistics.Recycled);
    }

    [Fact]
    public async Task A_kept_database_of_a_failed_test_is_never_recycled()
    {
        var options = TestSchemas.Options(TestSchemas.Fresh(ShopSchema), poolSize: 1);
        options.KeepFailed = true;
        await using var pool = await PostgresTestServer.CreatePoolAsync(options, Token);
        var failed = await pool.RentAsync(Token);
        var name = failed.Name;
        await using (var connection = await failed.OpenConnectionAsync(Token))
        {
            await TestSchemas.ExecuteAsync(connection, "insert into notes values (1, 'evidence')", Token);
        }

        failed.MarkFailed();
        await failed.DisposeAsync();
        Assert.NotNull(failed.KeptAt);
        for (var i = 0; i < 3; i++)
        {
            await using var next = await pool.RentAsync(Token);
            Assert.NotEqual(name, next.Name);
        }

        await using var admin = await PostgresTestServer.OpenAdminAsync(Token);
        await admin.ChangeDatabaseAsync(name, Token);
        Assert.Equal(1L, await TestSchemas.ScalarAsync<long>(admin, "select count(*) from notes", Token));
        await admin.ChangeDatabaseAsync("postgres", Token);
        await TestSchemas.ExecuteAsync(admin, $"drop database \"{name}\" with (force)", Token);
    }

    [Fact]
    public async Task A_connection_left_inside_a_transaction_neither_blocks_the_restore_nor_reaches_the_next_test()
    {
        await using var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh(ShopSchema), poolSize: 1), Token);
        string name;
        NpgsqlConnection leaked;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
            leaked = new NpgsqlConnection(first.ConnectionString);
            await leaked.OpenAsync(Token);
            await TestSchemas.ExecuteAsync(leaked, "begin; insert into customers (name) values ('uncommitted'); lock table orders in access exclusive mode", Token);
            await using var pooled = new NpgsqlConnection(first.ConnectionString);
            await pooled.OpenAsync(Token);
            await TestSchemas.ExecuteAsync(pooled, "insert into notes values (7, 'committed')", Token);
        }

        await using var second = await RentAsync(pool, name);
        await using (var again = new NpgsqlConnection(second.ConnectionString))
        {
            await again.OpenAsync(Token);
            Assert.Equal(2L, await TestSchemas.ScalarAsync<long>(again, "select count(*) from customers", Token));
            Assert.Equal(0L, await TestSchemas.ScalarAsync<long>(again, "select count(*) from notes", Token));
            Assert.Equal(2L, await TestSchemas.ScalarAsync<long>(again, "select count(*) from orders", Token));
        }

        await Assert.ThrowsAnyAsync<Exception>(() => TestSchemas.ExecuteAsync(leaked, "commit", Token));
        await leaked.DisposeAsync();
    }

    [Fact]
    public async Task A_session_still_running_a_statement_is_ended_and_an_idle_one_is_kept_warm()
    {
        await using var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh(ShopSchema), poolSize: 1), Token);
        string name;
        await using var idle = new NpgsqlConnection();
        await using var running = new NpgsqlConnection();
        Task sleeping;
        int idlePid, runningPid;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
            idle.ConnectionString = running.ConnectionString = new NpgsqlConnectionStringBuilder(first.ConnectionString) { Pooling = false }.ConnectionString;
            await idle.OpenAsync(Token);
            await running.OpenAsync(Token);
            idlePid = await TestSchemas.ScalarAsync<int>(idle, "insert into notes values (1, 'idle') returning pg_backend_pid()", Token);
            runningPid = running.ProcessID;
            // A statement outside any explicit transaction, still running when the test gives its database back.
            sleeping = TestSchemas.ExecuteAsync(running, "insert into notes select 2, 'late' from pg_sleep(60)", CancellationToken.None);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (await TestSchemas.ScalarAsync<string>(idle, $"select coalesce((select state from pg_stat_activity where pid = {runningPid}), 'gone')", Token) != "active")
            {
                Assert.True(DateTime.UtcNow < deadline, "the sleeping statement never showed as active");
                await Task.Delay(10, Token);
            }
        }

        await using var second = await RentAsync(pool, name);
        await Assert.ThrowsAnyAsync<Exception>(() => sleeping);
        await using var again = await second.OpenConnectionAsync(Token);
        Assert.Equal(0L, await TestSchemas.ScalarAsync<long>(again, "select count(*) from notes", Token));
        Assert.Equal(0L, await TestSchemas.ScalarAsync<long>(again, $"select count(*) from pg_stat_activity where pid = {runningPid}", Token));
        Assert.Equal(1L, await TestSchemas.ScalarAsync<long>(again, $"select count(*) from pg_stat_activity where pid = {idlePid}", Token));
        Assert.Equal(idlePid, await TestSchemas.ScalarAsync<int>(idle, "select pg_backend_pid()", Token));
    }

    [Fact]
    public async Task A_clone_that_served_hundreds_of_tests_does_not_keep_their_dead_rows()
    {
        // The throwaway server runs without autovacuum: without Deflake's own vacuum every test's inserted-then-deleted rows
        // would stay in the clone's tables (and its bookkeeping table) for good, and every scan would read them.
        await using var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh(ShopSchema), poolSize: 1), Token);
        string name;
        await using (var first = await pool.RentAsync(Token))
        {
            name = first.Name;
        }

        const int Tests = 300;
        for (var test = 0; test < Tests; test++)
        {
            await using var database = await RentAsync(pool, name);
            await using var connection = await database.OpenConnectionAsync(Token);
            await TestSchemas.ExecuteAsync(connection, $"insert into notes select g, 'row' from generate_series({test * 20}, {test * 20 + 19}) g", Token);
        }

        await using var last = await RentAsync(pool, name);
        await using var check = await last.OpenConnectionAsync(Token);
        Assert.Equal(0L, await TestSchemas.ScalarAsync<long>(check, "select count(*) from notes", Token));
        // 300 tests × 20 rows = 6,000 dead rows (21 pages) without vacuum; with it, at most the dead rows Deflake lets gather
        // between two vacuums (1,000: about 5 pages of these rows).
        var pages = await TestSchemas.ScalarAsync<long>(check, "select pg_relation_size('notes') / current_setting('block_size')::bigint", Token);
        var bookkeeping = await TestSchemas.ScalarAsync<long>(check, "select pg_relation_size('deflake_recycle.dirty') / current_setting('block_size')::bigint", Token);
        Assert.True(pages <= 8, $"notes has {pages} pages after {Tests} recycled tests");
        Assert.True(bookkeeping <= 2, $"Deflake's dirty-table record has {bookkeeping} pages after {Tests} recycled tests");
    }

    [Fact]
    public async Task Two_sessions_writing_one_table_in_open_transactions_do_not_wait_for_each_other()
    {
        // Deflake records a written table in its bookkeeping; with a unique key there, the second session's insert would wait
        // for the first transaction to end — a test that commits the first after the second's insert would hang.
        await using var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh(ShopSchema), poolSize: 1), Token);
        await using var database = await pool.RentAsync(Token);
        await using var first = await database.OpenConnectionAsync(Token);
        await using var second = await database.OpenConnectionAsync(Token);
        await TestSchemas.ExecuteAsync(first, "begin; insert into notes values (1, 'first')", Token);
        await TestSchemas.ExecuteAsync(second, "begin; set local lock_timeout = '2s'; insert into notes values (2, 'second'); update notes set body = 'both' where id = 2", Token);
        await TestSchemas.ExecuteAsync(first, "update customers set name = 'x' where id = 1", Token);
        await TestSchemas.ExecuteAsync(second, "commit", Token);
        await TestSchemas.ExecuteAsync(first, "commit", Token);
        Assert.Equal(2L, await TestSchemas.ScalarAsync<long>(first, "select count(*) from notes", Token));
    }

    [Fact]
    public async Task A_role_that_is_not_a_superuser_gets_a_new_clone_per_test_without_an_error()
    {
        // Recycling needs a superuser (DDL is detected with an event trigger); Deflake's restore session sets a superuser-only
        // setting when it connects, which must not fail any other role's clones — nor may the registry a superuser made.
        var role = "deflake_plain_" + Guid.NewGuid().ToString("N")[..8];
        // The server's registry as a superuser's Deflake leaves it (made by it, or granted to every role on its start).
        await using (var superuser = await PostgresTestServer.CreateEngineAsync())
        {
            await superuser.StartAsync(new EngineContext(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System, ChaosModes.None, 1), Token);
        }

        await using (var admin = await PostgresTestServer.OpenAdminAsync(Token))
        {
            await TestSchemas.ExecuteAsync(admin, $"create role \"{role}\" login createdb", Token);
        }

        string? template = null;
        try
        {
            var plain = new NpgsqlConnectionStringBuilder(await PostgresTestServer.GetAdminConnectionStringAsync(Token)) { Username = role }.ConnectionString;
            await using (var pool = await TestDatabasePool.CreateAsync(new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = plain }),
                TestSchemas.Options(TestSchemas.Fresh(ShopSchema), poolSize: 1), Token))
            {
                template = pool.Template.Name;
                for (var test = 0; test < 3; test++)
                {
                    await using var database = await pool.RentAsync(Token);
                    await using var connection = await database.OpenConnectionAsync(Token);
                    Assert.Equal(0L, await TestSchemas.ScalarAsync<long>(connection, "select count(*) from notes", Token));
                    await TestSchemas.ExecuteAsync(connection, "insert into notes values (1, 'mine')", Token);
                }

                Assert.Equal(0L, pool.Statistics.Recycled);
            }
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = await PostgresTestServer.OpenAdminAsync(Token);
            if (template is not null)
            {
                await TestSchemas.ExecuteAsync(admin, $"alter database \"{template}\" with is_template false", Token);
                await TestSchemas.ExecuteAsync(admin, $"drop database if exists \"{template}\" with (force)", Token);
            }

            await TestSchemas.ExecuteAsync(admin, $"drop owned by \"{role}\"; drop role if exists \"{role}\"", Token);
        }
    }

    private static async Task<TestDatabase> RentAsync(TestDatabasePool pool, string name)
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
}
