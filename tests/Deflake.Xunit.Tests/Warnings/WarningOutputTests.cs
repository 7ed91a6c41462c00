using Deflake.Sqlite;

namespace Deflake.Xunit.Tests.Warnings;

/// <summary>Issue 17 item 7: what Deflake logs at warning level reaches the test output by default.</summary>
public sealed class WarningOutputTests
{
    private sealed class UncoveredDatabase : DeflakeFixture
    {
        protected override IDatabaseEngine CreateEngine() => new SqliteEngine();

        protected override TestDatabaseOptions CreateOptions() => new()
        {
            Schema = SchemaSource.FromDelegate("uncovered-warning", "1", async (connection, ct) =>
            {
                await using var command = connection.CreateCommand();
                // INTEGER PRIMARY KEY without AUTOINCREMENT: SQLite keeps no counter, so identities cannot move it.
                command.CommandText = "CREATE TABLE plain_notes (id INTEGER PRIMARY KEY, note TEXT NOT NULL); CREATE TABLE counted (id INTEGER PRIMARY KEY AUTOINCREMENT)";
                await command.ExecuteNonQueryAsync(ct);
            }),
            Chaos = ChaosModes.Identities,
            Seed = 17,
        };
    }

    [Fact]
    public async Task An_identities_pool_with_an_uncovered_table_names_it_in_the_test_output()
    {
        var fixture = new UncoveredDatabase();
        await fixture.InitializeAsync();
        try
        {
            await using (await fixture.RentAsync(TestContext.Current.CancellationToken))
            {
                var output = TestContext.Current.TestOutputHelper!.Output;
                var line = Assert.Single(output.Split('\n'), l => l.Contains("Deflake warning", StringComparison.Ordinal));
                Assert.Contains("identities does not cover 1 SQLite table", line, StringComparison.Ordinal);
                Assert.Contains("plain_notes", line, StringComparison.Ordinal);
                Assert.DoesNotContain("counted", line, StringComparison.Ordinal);
            }

            // Shown once: the next test's output does not repeat it.
            await using (await fixture.RentAsync(TestContext.Current.CancellationToken))
            {
                Assert.Single(TestContext.Current.TestOutputHelper!.Output.Split('\n'), l => l.Contains("Deflake warning", StringComparison.Ordinal));
            }
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public void A_warning_is_one_line_naming_Deflake_and_the_exception()
    {
        var line = Testing.WarningForwarder.Format("Deflake could not drop x.db; it will be collected later", new IOException("disk gone\nsecond line"));

        Assert.Equal("Deflake warning: could not drop x.db; it will be collected later (IOException: disk gone)", line);
    }
}
