using System.Data.Common;
using System.Globalization;
using MySql.Data.MySqlClient;
using static Deflake.MariaDb.Tests.Recycling.MariaDbRecycleTests;

namespace Deflake.MariaDb.Tests.Recycling;

/// <summary>
/// Random tests on one recycled database: after each one is returned, the next rent must find exactly what a new clone of
/// the template shows (every object's definition and AUTO_INCREMENT counter, every table's rows in unordered-SELECT order,
/// no trigger, no session state). Seeded: a failure names its seed; <c>DEFLAKE_RECYCLE_PROPERTY_SEED=n</c> replays it.
/// </summary>
public sealed class MariaDbRecyclePropertyTests
{
    private const string SeedVariable = "DEFLAKE_RECYCLE_PROPERTY_SEED";
    private const int Cases = 60;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(ChaosModes.None)]
    [InlineData(ChaosModes.Identities)]
    [InlineData(ChaosModes.Rows)]
    [InlineData(ChaosModes.Identities | ChaosModes.Rows)]
    public async Task After_any_random_test_a_recycled_database_is_identical_to_a_new_clone(ChaosModes chaos)
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), NumberStyles.Integer, CultureInfo.InvariantCulture, out var replay)
            ? replay
            : Random.Shared.Next();
        var random = new Random(seed);
        var options = Options(chaos, seed: 7);
        await using var pool = await MariaDbTestServer.CreateRecyclingPoolAsync(options, Token);
        var leaked = new List<MySqlConnection>();
        string? reference = null;
        var history = new List<string>();
        try
        {
            for (var i = 0; i <= Cases; i++)
            {
                var database = await pool.RentAsync(Token);
                var steps = new List<string>();
                try
                {
                    string state;
                    await using (var connection = await database.OpenConnectionAsync(Token))
                    {
                        state = await DescribeAsync(connection, database.Name);
                    }

                    reference ??= state;
                    Assert.True(reference == state,
                        $"Seed {seed} ({chaos}), after case {i - 1}: the database differs from a new clone; replay with {SeedVariable}={seed}.\nLast case: {(history.Count > 0 ? history[^1] : "none")}\nExpected:\n{reference}\nActual:\n{state}");
                    if (i == Cases)
                    {
                        break;
                    }

                    history.Add("");
                    await RunRandomTestAsync(database, random, leaked, steps);
                    history[^1] = string.Join("; ", steps);
                }
                catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
                {
                    throw new InvalidOperationException($"Seed {seed} ({chaos}), case {i}: {ex.Message}; replay with {SeedVariable}={seed}. Steps so far: {string.Join("; ", steps)}", ex);
                }
                finally
                {
                    await database.DisposeAsync();
                }
            }

            Assert.True(pool.Statistics.Recycled >= Cases / 2, $"seed {seed}: only {pool.Statistics.Recycled} of {Cases} returns were recycled ({pool.Statistics})");
        }
        finally
        {
            foreach (var connection in leaked)
            {
                try
                {
                    await connection.DisposeAsync();
                }
                catch (Exception ex) when (ex is MySqlException or IOException)
                {
                    // Killed by the restore, as it should be.
                }
            }
        }
    }

    private static readonly string[] Ddl =
    [
        "ALTER TABLE notes ADD COLUMN extra INT",
        "CREATE TABLE extra_table (id INT PRIMARY KEY)",
        "CREATE INDEX ix_events_what ON events (what)",
        "DROP VIEW parent_names",
        "CREATE TRIGGER notes_audit BEFORE INSERT ON notes FOR EACH ROW SET NEW.body = UPPER(NEW.body)",
        "ALTER TABLE notes ALTER COLUMN body SET DEFAULT 'x'",
        "CREATE PROCEDURE p() SELECT 1",
        "CREATE OR REPLACE VIEW parent_names AS SELECT name, id FROM parents",
    ];

    /// <summary>One random test: 1-6 writes of every kind, now and then a connection left open or inside a transaction, rarely DDL.</summary>
    private static async Task RunRandomTestAsync(TestDatabase database, Random random, List<MySqlConnection> leaked, List<string> steps)
    {
        await using var connection = await database.OpenConnectionAsync(Token);
        // The test's own connections may lock each other out (one left inside a transaction): fail fast, as a step.
        const string FailFast = "SET SESSION lock_wait_timeout = 1, innodb_lock_wait_timeout = 1";
        await ExecuteAsync(connection, FailFast);
        var count = random.Next(1, 7);
        for (var s = 0; s < count; s++)
        {
            var n = random.Next(1, 1000);
            var parent = random.Next(1, 3);
            var sql = random.Next(18) switch
            {
                0 => $"INSERT INTO parents (name) VALUES ('p{n}')",
                1 => $"INSERT INTO parents (id, name) VALUES ({random.Next(5, 100_000)}, 'e{n}')",
                2 => $"INSERT INTO children (parent_id, note) VALUES ({parent}, 'c{n}')",
                3 => $"INSERT INTO children (id, parent_id) VALUES ({random.Next(10, 1_000_000)}, {parent})",
                4 => $"UPDATE parents SET name = 'u{n}' WHERE id = {parent}",
                5 => $"UPDATE children SET note = 'u{n}', parent_id = {parent}",
                6 => $"DELETE FROM parents WHERE id = {parent}",
                7 => $"DELETE FROM events WHERE at = {random.Next(1, 4)}",
                8 => $"INSERT INTO events VALUES ({n}, 'e{n}'), ({random.Next(1, 4)}, 'dup')",
                9 => random.Next(3) switch { 0 => "TRUNCATE TABLE events", 1 => "TRUNCATE TABLE children", _ => "TRUNCATE TABLE notes" },
                10 => $"START TRANSACTION; INSERT INTO parents (name) VALUES ('r{n}'); INSERT INTO children (parent_id) VALUES (1); ROLLBACK",
                11 => $"REPLACE INTO notes VALUES ('k{n % 5}', 'b{n}')",
                12 => $"SET foreign_key_checks = 0; DELETE FROM parents WHERE id = {parent}; SET @deflake_leak = {n}",
                13 => "LEAK-IDLE",
                14 => "LEAK-TRANSACTION",
                15 => $"CREATE TEMPORARY TABLE tmp_{n} (id INT); SET @deflake_leak = {n}; SET SESSION sql_mode = 'ANSI'",
                16 => $"INSERT INTO parent_names (name) VALUES ('v{n}')",
                _ => random.Next(4) == 0 ? Ddl[random.Next(Ddl.Length)] : $"UPDATE notes SET body = 'n{n}'",
            };
            steps.Add(sql);
            if (sql is "LEAK-IDLE" or "LEAK-TRANSACTION")
            {
                var other = new MySqlConnection(database.ConnectionString);
                await other.OpenAsync(Token);
                leaked.Add(other);
                await ExecuteAsync(other, FailFast);
                await TryAsync(other, sql == "LEAK-IDLE"
                    ? $"INSERT INTO notes VALUES ('l{n}', 'left open'); SET @deflake_leak = {n}"
                    : $"START TRANSACTION; INSERT INTO parents (name) VALUES ('t{n}'); UPDATE events SET what = 'locked'; SELECT * FROM notes FOR UPDATE");
                continue;
            }

            await TryAsync(connection, sql);
            if (sql.StartsWith("TRUNCATE", StringComparison.Ordinal))
            {
                // Under rows chaos the name is a view: truncate the hidden table.
                await TryAsync(connection, sql.Replace("TABLE ", "TABLE __deflake_rows_", StringComparison.Ordinal));
            }
        }
    }

    /// <summary>Runs a step; a step the schema refuses (a duplicate key, a missing parent, a view) is simply part of the test.</summary>
    private static async Task TryAsync(DbConnection connection, string sql)
    {
        try
        {
            await ExecuteAsync(connection, sql);
        }
        catch (MySqlException)
        {
        }
    }
}
