using System.Data.Common;
using Deflake.Xunit;

namespace Consumer.Tests;

/// <summary>Writes what would collide on a shared database: the same unique email in every test.</summary>
public static class Accounts
{
    public static async Task<long> AddDuplicateAndCountAsync(DbConnection connection)
    {
        await using (var insert = connection.CreateCommand())
        {
            insert.CommandText = "INSERT INTO accounts (id, email, balance) VALUES (2, 'same@example.com', 5)";
            await insert.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM accounts";
        return Convert.ToInt64(await count.ExecuteScalarAsync(TestContext.Current.CancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }
}

public sealed class SqliteAccountTests(SqliteDatabase db) : DatabaseTest<SqliteDatabase>(db)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Each_test_sees_the_seed_and_only_its_own_row(int run)
    {
        await using var connection = await Database.OpenConnectionAsync(TestContext.Current.CancellationToken);
        Assert.True(await Accounts.AddDuplicateAndCountAsync(connection) == 2, $"run {run} saw another test's rows in {Database.Name}");
    }
}

public sealed class PostgresAccountTests(PostgresDatabase db) : DatabaseTest<PostgresDatabase>(db)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Each_test_sees_the_seed_and_only_its_own_row(int run)
    {
        await using var connection = await Database.OpenConnectionAsync(TestContext.Current.CancellationToken);
        Assert.Equal("Npgsql.NpgsqlConnection", connection.GetType().FullName);
        Assert.True(await Accounts.AddDuplicateAndCountAsync(connection) == 2, $"run {run} saw another test's rows in {Database.Name}");
    }
}
