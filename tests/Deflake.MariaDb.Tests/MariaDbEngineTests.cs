using System.Globalization;
using Deflake.MariaDb.Internal;
using MySql.Data.MySqlClient;

namespace Deflake.MariaDb.Tests;

public sealed class MariaDbEngineTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    internal static TestDatabaseOptions Options(SchemaSource schema, ChaosModes chaos = ChaosModes.None, int seed = 1)
        => new() { Schema = schema, PoolSize = 1, Chaos = chaos, Seed = seed };

    // A schema name of its own per call: a schema name is a template lineage, and templates of one lineage supersede
    // each other (parallel tests, or two copies of this suite, would otherwise drop each other's disposed templates).
    internal static SchemaSource Sql(string sql) => Sql(sql, Guid.NewGuid().ToString("N"));

    private static SchemaSource Sql(string sql, string version) => SchemaSource.FromDelegate("mariadb-test:" + version, version, async (connection, ct) =>
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(ct);
    });

    private static async Task<object?> ScalarAsync(System.Data.Common.DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(Token);
    }

    [Fact]
    public async Task A_clone_keeps_rows_foreign_keys_the_auto_increment_counter_generated_columns_and_views()
    {
        await using var pool = await MariaDbTestServer.CreatePoolAsync(Options(Sql("""
            CREATE TABLE parents (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL, upper_name VARCHAR(20) AS (UPPER(name)) VIRTUAL);
            CREATE TABLE children (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT NOT NULL, CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES parents (id));
            INSERT INTO parents (name) VALUES ('a'), ('b');
            DELETE FROM parents WHERE id = 2;
            ALTER TABLE children AUTO_INCREMENT = 500;
            CREATE VIEW named_parents AS SELECT id, upper_name FROM parents;
            CREATE VIEW named_parents_too AS SELECT id FROM named_parents;
            """)), Token);
        await using var database = await pool.RentAsync(Token);
        await using var connection = await database.OpenConnectionAsync(Token);

        Assert.Equal("A", await ScalarAsync(connection, "SELECT upper_name FROM named_parents WHERE id = 1"));
        Assert.Equal(1L, Convert.ToInt64(await ScalarAsync(connection, "SELECT COUNT(*) FROM named_parents_too"), CultureInfo.InvariantCulture));
        // The deleted row's id is not reused: the template's counter (3) came along, as did the altered one (500).
        Assert.Equal(3L, Convert.ToInt64(await ScalarAsync(connection, "INSERT INTO parents (name) VALUES ('c') RETURNING id"), CultureInfo.InvariantCulture));
        Assert.Equal(500L, Convert.ToInt64(await ScalarAsync(connection, "INSERT INTO children (parent_id) VALUES (1) RETURNING id"), CultureInfo.InvariantCulture));
        var error = await Assert.ThrowsAsync<MySqlException>(() => ScalarAsync(connection, "INSERT INTO children (parent_id) VALUES (999)"));
        Assert.Equal(1452, error.Number); // foreign key violation: CREATE TABLE … LIKE would have lost it
        Assert.Contains(database.Name, (string)(await ScalarAsync(connection, "SELECT TABLE_SCHEMA FROM information_schema.VIEWS WHERE TABLE_NAME = 'named_parents_too' AND TABLE_SCHEMA = DATABASE()"))!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_schema_with_a_trigger_fails_at_pool_start_with_one_line_naming_it_and_leaves_no_template()
    {
        var trigger = "t_audit_" + Guid.NewGuid().ToString("N")[..8];
        var schema = Sql($"CREATE TABLE t (id INT PRIMARY KEY); CREATE TRIGGER `{trigger}` BEFORE INSERT ON t FOR EACH ROW SET NEW.id = NEW.id + 1;");

        var error = await Assert.ThrowsAsync<NotSupportedException>(async () => await MariaDbTestServer.CreatePoolAsync(Options(schema), Token));

        Assert.Contains($"trigger `{trigger}`", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal(0L, Convert.ToInt64(await MariaDbTestServer.ScalarAsync($"SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_NAME = {Quote.Literal(trigger)}", Token), CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_clone_is_dropped_with_its_registry_row_when_returned()
    {
        await using var pool = await MariaDbTestServer.CreatePoolAsync(Options(Sql("CREATE TABLE t (id INT PRIMARY KEY)")), Token);
        var database = await pool.RentAsync(Token);
        var name = database.Name;
        Assert.StartsWith("deflake_", name, StringComparison.Ordinal);
        Assert.Equal(1L, Convert.ToInt64(await MariaDbTestServer.ScalarAsync($"SELECT COUNT(*) FROM deflake_registry.`databases` WHERE name = {Quote.Literal(name)}", Token), CultureInfo.InvariantCulture));

        await database.DisposeAsync();
        await pool.DisposeAsync(); // returns are dropped in the background; disposing the pool waits for them

        Assert.DoesNotContain(name, await MariaDbTestServer.DatabaseNamesAsync("deflake_", Token));
        Assert.Equal(0L, Convert.ToInt64(await MariaDbTestServer.ScalarAsync($"SELECT COUNT(*) FROM deflake_registry.`databases` WHERE name = {Quote.Literal(name)}", Token), CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Orphan_collection_removes_a_dead_owners_clone_and_never_a_foreign_database_even_one_named_like_deflakes()
    {
        var deadOwner = "dead" + Guid.NewGuid().ToString("N")[..6];
        var orphan = $"deflake_00000000_{deadOwner}_1";
        var foreign = "deflake_foreign_" + Guid.NewGuid().ToString("N")[..8];
        var unrelated = "app_" + Guid.NewGuid().ToString("N")[..8];
        await MariaDbTestServer.ExecuteAsync($"""
            CREATE DATABASE {Quote.Identifier(orphan)}; CREATE DATABASE {Quote.Identifier(foreign)}; CREATE DATABASE {Quote.Identifier(unrelated)};
            INSERT INTO deflake_registry.`databases` (name, kind, owner, pid, machine, fingerprint, created) VALUES ({Quote.Literal(orphan)}, 'clone', {Quote.Literal(deadOwner)}, 1, 'nowhere', '00000000', UTC_TIMESTAMP(6));
            """, Token);
        try
        {
            await using var engine = await MariaDbTestServer.CreateEngineAsync();
            await engine.StartAsync(new EngineContext(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System, ChaosModes.None, 1), Token);

            // A pool starting in a parallel test (or another copy of this suite) may collect it first: what counts is that it goes.
            await engine.RemoveOrphansAsync(TimeSpan.FromDays(1), Token);

            var names = await MariaDbTestServer.DatabaseNamesAsync("", Token);
            Assert.DoesNotContain(orphan, names);
            Assert.Contains(foreign, names);
            Assert.Contains(unrelated, names);
        }
        finally
        {
            await MariaDbTestServer.ExecuteAsync($"DROP DATABASE IF EXISTS {Quote.Identifier(orphan)}; DROP DATABASE IF EXISTS {Quote.Identifier(foreign)}; DROP DATABASE IF EXISTS {Quote.Identifier(unrelated)}; DELETE FROM deflake_registry.`databases` WHERE name = {Quote.Literal(orphan)}", CancellationToken.None);
        }
    }

    [Fact]
    public async Task Quoting_doubles_backticks_and_escapes_quotes()
    {
        Assert.Equal("`a``b`", Quote.Identifier("a`b"));
        Assert.Equal(@"'it''s \\ fine'", Quote.Literal(@"it's \ fine"));
        await using var pool = await MariaDbTestServer.CreatePoolAsync(Options(Sql("CREATE TABLE `we``ird` (id INT AUTO_INCREMENT PRIMARY KEY, `na``me` VARCHAR(10)); INSERT INTO `we``ird` (`na``me`) VALUES ('x');")), Token);
        await using var database = await pool.RentAsync(Token);
        await using var connection = await database.OpenConnectionAsync(Token);
        Assert.Equal("x", await ScalarAsync(connection, "SELECT `na``me` FROM `we``ird`"));
    }

    [Fact]
    public void Describe_names_the_socket_user_and_database_but_never_the_password()
    {
        var text = MariaDbEngine.Describe("Server=/tmp/x/mysqld.sock;Protocol=Unix;User ID=root;Password=hunter2-secret;Database=deflake_abc");
        Assert.Equal("mariadb --socket=/tmp/x/mysqld.sock --user=root -p deflake_abc", text);
        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
    }
}
