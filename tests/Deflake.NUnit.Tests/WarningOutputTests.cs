using Deflake.Sqlite;
using NUnit.Framework.Internal;

namespace Deflake.NUnit.Tests;

/// <summary>Issue 17 item 7 on NUnit: a warning Deflake logs reaches the output of the test that rents next.</summary>
public sealed class WarningOutputTests
{
    public sealed class UncoveredDatabase : DeflakeFixture
    {
        protected override IDatabaseEngine CreateEngine() => new SqliteEngine();

        protected override TestDatabaseOptions CreateOptions() => new()
        {
            Schema = SchemaSource.FromDelegate("nunit-uncovered-warning", "1", async (connection, ct) =>
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "CREATE TABLE loose_rows (id INTEGER PRIMARY KEY, note TEXT NOT NULL)";
                await command.ExecuteNonQueryAsync(ct);
            }),
            Chaos = ChaosModes.Identities,
            Seed = 17,
        };
    }

    [Test]
    public async Task An_identities_pool_with_an_uncovered_table_names_it_in_the_test_output()
    {
        await using var database = await new UncoveredDatabase().RentAsync();

        var output = TestExecutionContext.CurrentContext.CurrentResult.Output;
        Assert.That(output, Does.Contain("Deflake warning: identities does not cover 1 SQLite table(s)"));
        Assert.That(output, Does.Contain("loose_rows"));
    }
}
