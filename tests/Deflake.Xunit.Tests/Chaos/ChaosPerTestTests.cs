using Deflake.Sqlite;

namespace Deflake.Xunit.Tests.Chaos;

public sealed class ChaosPerTestTests
{
    [Fact]
    public void A_chaos_tests_file_maps_each_test_to_its_modes_and_skips_comments()
    {
        var chaos = DeflakeEnvironment.ParseChaosTests("# hunt\nidentities\tShop.A.One\n\nrows,identities\tShop.B.Two\r\n");

        Assert.Equal(2, chaos.Count);
        Assert.Equal(ChaosModes.Identities, chaos["Shop.A.One"]);
        Assert.Equal(ChaosModes.All, chaos["Shop.B.Two"]);
    }

    [Theory]
    [InlineData("identities Shop.A.One", "is not 'modes<TAB>test id'")]
    [InlineData("sideways\tShop.A.One", "unknown chaos mode 'sideways'")]
    [InlineData("rows\tShop.A.One\nidentities\tShop.A.One", "names Shop.A.One twice")]
    public void A_wrong_line_is_a_configuration_error_naming_the_variable(string text, string expected)
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => DeflakeEnvironment.ParseChaosTests(text));

        Assert.Equal(DeflakeEnvironment.ChaosTests, error.Setting);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private sealed class CounterDatabase : DeflakeFixture
    {
        protected override IDatabaseEngine CreateEngine() => new SqliteEngine();

        protected override TestDatabaseOptions CreateOptions() => new()
        {
            Schema = SchemaSource.FromDelegate("chaos-per-test", "1", async (connection, ct) =>
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "CREATE TABLE counter (id INTEGER PRIMARY KEY AUTOINCREMENT, note TEXT NOT NULL)";
                await command.ExecuteNonQueryAsync(ct);
            }),
            Seed = 42,
        };
    }

    private static async Task<long> FirstIdAsync(TestDatabase database)
    {
        await using var connection = await database.OpenConnectionAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO counter (note) VALUES ('x') RETURNING id";
        return (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    [Fact]
    public async Task A_test_the_file_names_gets_a_database_under_its_own_modes_and_the_others_keep_DEFLAKE_CHAOS()
    {
        var file = Path.GetTempFileName();
        var previous = Environment.GetEnvironmentVariable(DeflakeEnvironment.ChaosTests);
        var fixture = new CounterDatabase();
        try
        {
            var self = $"{typeof(ChaosPerTestTests).FullName}.{nameof(A_test_the_file_names_gets_a_database_under_its_own_modes_and_the_others_keep_DEFLAKE_CHAOS)}";
            await File.WriteAllTextAsync(file, $"identities\t{self}\n", TestContext.Current.CancellationToken);
            Environment.SetEnvironmentVariable(DeflakeEnvironment.ChaosTests, file);
            await fixture.InitializeAsync();
            Environment.SetEnvironmentVariable(DeflakeEnvironment.ChaosTests, previous);

            // This test is named: its database comes from a pool with identity chaos (its ids do not start at 1).
            Assert.Equal(ChaosModes.Identities, fixture.ChaosOf(self));
            await using (var mine = await fixture.RentAsync(TestContext.Current.CancellationToken))
            {
                Assert.Equal(ChaosModes.Identities, mine.Chaos);
                Assert.NotEqual(1, await FirstIdAsync(mine));
            }

            // Any other test keeps the fixture's own pool (DEFLAKE_CHAOS: unset here, so none).
            Assert.Null(fixture.ChaosOf("Other.Tests.Unnamed"));
            Assert.Equal(ChaosModes.None, fixture.Pool.Chaos);
            await using var plain = await fixture.Pool.RentAsync(TestContext.Current.CancellationToken);
            Assert.Equal(1, await FirstIdAsync(plain));
        }
        finally
        {
            Environment.SetEnvironmentVariable(DeflakeEnvironment.ChaosTests, previous);
            await fixture.DisposeAsync();
            File.Delete(file);
        }
    }
}
