using Npgsql;

namespace Deflake.Postgres.Tests;

public sealed class PostgresEngineTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Each_rented_database_is_its_own_copy_of_the_template()
    {
        await using var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh()), Token);
        await using var first = await pool.RentAsync(Token);
        await using var second = await pool.RentAsync(Token);

        await using (var connection = await first.OpenConnectionAsync(Token))
        {
            await TestSchemas.ExecuteAsync(connection, "insert into items (name) values ('only in first'); delete from items where name = 'seed-1'", Token);
            Assert.Equal(2L, await TestSchemas.ScalarAsync<long>(connection, "select count(*) from items", Token));
        }

        await using (var connection = await second.OpenConnectionAsync(Token))
        {
            Assert.Equal(2L, await TestSchemas.ScalarAsync<long>(connection, "select count(*) from items", Token));
            Assert.Equal(0L, await TestSchemas.ScalarAsync<long>(connection, "select count(*) from items where name = 'only in first'", Token));
        }

        Assert.NotEqual(first.Name, second.Name);
        Assert.StartsWith("deflake_", first.Name, StringComparison.Ordinal);
        Assert.Equal("postgres", first.EngineKind);
    }

    [Fact]
    public async Task A_rented_clone_comes_with_its_first_session_already_open_and_it_is_closed_when_dropped_without_recycling()
    {
        var options = TestSchemas.Options(TestSchemas.Fresh());
        options.Recycle = false;
        await using var pool = await PostgresTestServer.CreatePoolAsync(options, Token);
        var database = await pool.RentAsync(Token);
        // Deflake's own restore session is open too, under its application name.
        const string Sessions = "select count(*) from pg_stat_activity where datname = @name and application_name <> 'deflake recycle'";

        await using var admin = await PostgresTestServer.OpenAdminAsync(Token);
        Assert.Equal(1L, await CountAsync(admin, Sessions, database.Name));
        await using (var connection = await database.OpenConnectionAsync(Token))
        {
            // The test's connection is that warm session, not a second one.
            Assert.Equal(1L, await CountAsync(admin, Sessions, database.Name));
        }

        var name = database.Name;
        await database.DisposeAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await PostgresTestServer.DatabaseNamesAsync(name, Token)).Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the returned clone was not dropped within 30 s");
            await Task.Delay(50, Token);
        }

        Assert.Equal(0L, await CountAsync(admin, "select count(*) from pg_stat_activity where datname = @name", name));
    }

    private static async Task<long> CountAsync(NpgsqlConnection connection, string sql, string name)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("name", name);
        return (long)(await command.ExecuteScalarAsync(Token))!;
    }

    [Fact]
    public async Task The_connection_string_reaches_the_clone_from_code_that_opens_its_own_connections()
    {
        await using var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh()), Token);
        await using var database = await pool.RentAsync(Token);

        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Token);
        Assert.Equal(database.Name, await TestSchemas.ScalarAsync<string>(connection, "select current_database()", Token));
        Assert.Equal(2L, await TestSchemas.ScalarAsync<long>(connection, "select count(*) from items", Token));
    }

    [Fact]
    public async Task A_second_pool_with_the_same_schema_reuses_the_template()
    {
        var version = Guid.NewGuid().ToString("N");
        string template;
        await using (var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh(version: version)), Token))
        {
            Assert.True(pool.Template.WasBuilt);
            template = pool.Template.Name;
        }

        await using (var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh(version: version)), Token))
        {
            Assert.False(pool.Template.WasBuilt);
            Assert.Equal(template, pool.Template.Name);
            await using var database = await pool.RentAsync(Token);
            await using var connection = await database.OpenConnectionAsync(Token);
            Assert.Equal(2L, await TestSchemas.ScalarAsync<long>(connection, "select count(*) from items", Token));
        }

        await using var admin = await PostgresTestServer.OpenAdminAsync(Token);
        await using var command = new NpgsqlCommand("select datistemplate and not datallowconn from pg_database where datname = @name", admin);
        command.Parameters.AddWithValue("name", template);
        Assert.True((bool)(await command.ExecuteScalarAsync(Token))!);
    }

    [Fact]
    public async Task A_changed_migration_builds_a_new_template()
    {
        using var directory = new TempDirectory();
        File.WriteAllText(Path.Combine(directory.Path, "001_items.sql"), "create table items (id int primary key);");
        File.WriteAllText(Path.Combine(directory.Path, "002_seed.sql"), $"insert into items values (1); -- {Guid.NewGuid()}");

        EngineTemplate before;
        await using (var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(SchemaSource.FromSqlDirectory(directory.Path)), Token))
        {
            before = pool.Template;
        }

        File.WriteAllText(Path.Combine(directory.Path, "002_seed.sql"), File.ReadAllText(Path.Combine(directory.Path, "002_seed.sql")) + "\ninsert into items values (2);");
        await using var changed = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(SchemaSource.FromSqlDirectory(directory.Path)), Token);

        Assert.True(before.WasBuilt);
        Assert.True(changed.Template.WasBuilt);
        Assert.NotEqual(before.Fingerprint, changed.Template.Fingerprint);
        await using var database = await changed.RentAsync(Token);
        await using var connection = await database.OpenConnectionAsync(Token);
        Assert.Equal(2L, await TestSchemas.ScalarAsync<long>(connection, "select count(*) from items", Token));
    }

    [Fact]
    public async Task A_failed_test_database_is_kept_with_a_psql_command_without_password_when_keeping_is_on()
    {
        var options = TestSchemas.Options(TestSchemas.Fresh());
        options.KeepFailed = true;
        string kept;
        string? keptAt;
        await using (var pool = await PostgresTestServer.CreatePoolAsync(options, Token))
        {
            var database = await pool.RentAsync(Token);
            kept = database.Name;
            await using (var connection = await database.OpenConnectionAsync(Token))
            {
                await TestSchemas.ExecuteAsync(connection, "insert into items (name) values ('evidence')", Token);
            }

            database.MarkFailed();
            await database.DisposeAsync();
            keptAt = database.KeptAt;
        }

        try
        {
            Assert.NotNull(keptAt);
            Assert.StartsWith("psql \"host=", keptAt, StringComparison.Ordinal);
            Assert.Contains($"dbname={kept}", keptAt, StringComparison.Ordinal);
            Assert.DoesNotContain("password", keptAt, StringComparison.OrdinalIgnoreCase);
            Assert.Contains(kept, await PostgresTestServer.DatabaseNamesAsync(kept, Token));

            // Kept databases survive orphan collection until they are older than the retention.
            await using var engine = await PostgresTestServer.CreateEngineAsync();
            await engine.StartAsync(NewContext(), Token);
            await engine.RemoveOrphansAsync(TimeSpan.FromDays(1), Token);
            Assert.Contains(kept, await PostgresTestServer.DatabaseNamesAsync(kept, Token));

            await using var keptConnection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(await PostgresTestServer.GetAdminConnectionStringAsync(Token)) { Database = kept }.ConnectionString);
            await keptConnection.OpenAsync(Token);
            Assert.Equal(1L, await TestSchemas.ScalarAsync<long>(keptConnection, "select count(*) from items where name = 'evidence'", Token));
            await keptConnection.CloseAsync();
            NpgsqlConnection.ClearPool(keptConnection);

            // Two days later (backdated, so other processes' kept databases are not disturbed) it goes.
            await RewriteMarkerAsync(kept, marker => marker with { KeptAt = marker.KeptAt!.Value.AddDays(-2) });
            // A pool starting in a parallel test (or another copy of this suite) may collect it first: what counts is that it goes.
            await engine.RemoveOrphansAsync(TimeSpan.FromDays(1), Token);
            Assert.DoesNotContain(kept, await PostgresTestServer.DatabaseNamesAsync(kept, Token));
        }
        finally
        {
            await DropIfExistsAsync(kept);
        }
    }

    [Fact]
    public async Task A_failed_test_database_is_dropped_when_keeping_is_off()
    {
        await using var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh()), Token);
        var database = await pool.RentAsync(Token);
        database.MarkFailed();
        await database.DisposeAsync();

        Assert.Null(database.KeptAt);
    }

    [Fact]
    public async Task Disposing_the_pool_removes_every_clone_it_made_and_keeps_the_template()
    {
        var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh(), poolSize: 3), Token);
        var prefix = $"deflake_{pool.Template.Fingerprint[..8]}_";
        var rented = await pool.RentAsync(Token);
        await using (var connection = await rented.OpenConnectionAsync(Token))
        {
            // A connection the test forgot to close must not stop the drop.
            var leaked = new NpgsqlConnection(rented.ConnectionString);
            await leaked.OpenAsync(Token);
        }

        await using (var returned = await pool.RentAsync(Token))
        {
        }

        Assert.NotEmpty(await PostgresTestServer.DatabaseNamesAsync(prefix, Token));
        await pool.DisposeAsync();

        Assert.Empty(await PostgresTestServer.DatabaseNamesAsync(prefix, Token));
        Assert.Contains(pool.Template.Name, await PostgresTestServer.DatabaseNamesAsync(pool.Template.Name, Token));
    }

    [Fact]
    public async Task Databases_that_are_not_Deflakes_are_never_touched()
    {
        var suffix = Guid.NewGuid().ToString("N")[..12];
        string[] foreign = [$"foreign_{suffix}", $"deflake_foreign_{suffix}", $"deflake_tpl_{suffix}"];
        await using var admin = await PostgresTestServer.OpenAdminAsync(Token);
        foreach (var name in foreign)
        {
            await TestSchemas.ExecuteAsync(admin, $"create database \"{name}\"", Token);
        }

        // A Deflake-looking name with a comment that is not Deflake's marker.
        await TestSchemas.ExecuteAsync(admin, $"comment on database \"deflake_foreign_{suffix}\" is 'owned by someone else'", Token);
        try
        {
            await using (var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh()), Token))
            {
                await using var database = await pool.RentAsync(Token);
            }

            await using var engine = await PostgresTestServer.CreateEngineAsync();
            await engine.StartAsync(NewContext(), Token);
            await engine.RemoveOrphansAsync(TimeSpan.FromDays(1), Token);

            var names = await PostgresTestServer.DatabaseNamesAsync("", Token);
            Assert.All(foreign, name => Assert.Contains(name, names));
        }
        finally
        {
            foreach (var name in foreign)
            {
                await DropIfExistsAsync(name);
            }
        }
    }

    [Fact]
    public async Task Two_engines_in_one_process_do_not_collect_each_others_clones()
    {
        await using var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh()), Token);
        await using var database = await pool.RentAsync(Token);

        await using var other = await PostgresTestServer.CreateEngineAsync();
        await other.StartAsync(NewContext(), Token);
        await other.RemoveOrphansAsync(TimeSpan.FromDays(1), Token);

        Assert.Contains(database.Name, await PostgresTestServer.DatabaseNamesAsync(database.Name, Token));
    }

    [Fact]
    public async Task Templates_unused_for_a_week_are_dropped_and_recent_ones_are_kept()
    {
        string stale;
        string fresh;
        await using (var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh()), Token))
        {
            stale = pool.Template.Name;
        }

        await using (var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(TestSchemas.Fresh()), Token))
        {
            fresh = pool.Template.Name;
        }

        await RewriteMarkerAsync(stale, marker => marker with { LastUsed = marker.LastUsed!.Value.AddDays(-8) });
        await using var engine = await PostgresTestServer.CreateEngineAsync();
        await engine.StartAsync(NewContext(), Token);
        await engine.RemoveOrphansAsync(TimeSpan.FromDays(1), Token);

        // Pools starting in parallel tests collect too; one of them may hold the template's lock and be dropping it
        // right now, so give the drop a moment to finish.
        var names = await PostgresTestServer.DatabaseNamesAsync("deflake_tpl_", Token);
        for (var attempt = 0; attempt < 50 && names.Contains(stale); attempt++)
        {
            await Task.Delay(100, Token);
            await engine.RemoveOrphansAsync(TimeSpan.FromDays(1), Token);
            names = await PostgresTestServer.DatabaseNamesAsync("deflake_tpl_", Token);
        }

        Assert.DoesNotContain(stale, names);
        Assert.Contains(fresh, names);
    }

    [Fact]
    public async Task A_clone_whose_owner_died_before_marking_it_is_removed_because_the_registry_recorded_it()
    {
        // A dead owner: a token no live process holds the lock of.
        var deadOwner = Guid.NewGuid().ToString("N")[..10];
        var unmarked = $"deflake_00000000_{deadOwner}_1";
        var unrecorded = $"deflake_00000000_{deadOwner}_2";
        await using (var warmup = await PostgresTestServer.CreateEngineAsync())
        {
            await warmup.StartAsync(NewContext(), Token); // makes sure the registry exists
        }

        await using var admin = await PostgresTestServer.OpenAdminAsync(Token);
        await TestSchemas.ExecuteAsync(admin, $"create database \"{unmarked}\"; ", Token);
        await TestSchemas.ExecuteAsync(admin, $"create database \"{unrecorded}\"; ", Token);
        try
        {
            var registry = new NpgsqlConnectionStringBuilder(await PostgresTestServer.GetAdminConnectionStringAsync(Token)) { Database = PostgresEngine.RegistryDatabase, Pooling = false };
            await using (var connection = new NpgsqlConnection(registry.ConnectionString))
            {
                await connection.OpenAsync(Token);
                await TestSchemas.ExecuteAsync(connection, $"insert into pending (name, owner) values ('{unmarked}', '{deadOwner}')", Token);
            }

            await using var engine = await PostgresTestServer.CreateEngineAsync();
            await engine.StartAsync(NewContext(), Token);
            // A pool starting in a parallel test (or another copy of this suite) may collect it first: what counts is that it goes.
            await engine.RemoveOrphansAsync(TimeSpan.FromDays(1), Token);

            var names = await PostgresTestServer.DatabaseNamesAsync("deflake_00000000_", Token);
            Assert.DoesNotContain(unmarked, names);
            Assert.Contains(unrecorded, names); // no marker, no record: not provably Deflake's, so untouched
        }
        finally
        {
            await DropIfExistsAsync(unmarked);
            await DropIfExistsAsync(unrecorded);
        }
    }

    private static async Task RewriteMarkerAsync(string database, Func<Deflake.Postgres.Internal.DatabaseMarker, Deflake.Postgres.Internal.DatabaseMarker> change)
    {
        await using var admin = await PostgresTestServer.OpenAdminAsync(Token);
        await using var read = new NpgsqlCommand("select shobj_description(oid, 'pg_database') from pg_database where datname = @name", admin);
        read.Parameters.AddWithValue("name", database);
        var marker = Deflake.Postgres.Internal.DatabaseMarker.TryParse((string?)await read.ExecuteScalarAsync(Token)) ?? throw new InvalidOperationException($"{database} has no marker");
        await TestSchemas.ExecuteAsync(admin, $"comment on database {Deflake.Postgres.Internal.Quote.Identifier(database)} is {Deflake.Postgres.Internal.Quote.Literal(change(marker).ToJson())}", Token);
    }

    internal static EngineContext NewContext()
        => new(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System, ChaosModes.None, 1);

    internal static async Task DropIfExistsAsync(string name)
    {
        await using var admin = await PostgresTestServer.OpenAdminAsync();
        await TestSchemas.ExecuteAsync(admin, $"drop database if exists \"{name}\" with (force)");
    }
}
