using Microsoft.Data.Sqlite;

namespace Shop.FlakyTests;

/// <summary>
/// A reporting database shared by the whole test process and set up once, on first use, by whichever test gets
/// there first (seed 003: a session-wide database and one-time setup that races when tests run in parallel).
/// <c>CREATE TABLE IF NOT EXISTS</c> makes the setup look idempotent; the seed rows are not: two tests that both see
/// an empty database both insert them.
/// </summary>
internal static class SharedReportsDatabase
{
    // Shared-cache in-memory database: alive while this connection is open, i.e. for the whole test process.
    private static readonly string ConnectionString = $"Data Source=shop-reports-{Environment.ProcessId};Mode=Memory;Cache=Shared";
    private static readonly SqliteConnection KeepAlive = Open();

    public static async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        GC.KeepAlive(KeepAlive);
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(ct);
        if (!await IsSetUpAsync(connection, ct))
        {
            // The race window: the other report test is checking too, right now, when both run in parallel.
            var concurrent = await RaceWindow.MeetAsync("reports-setup", RaceWindow.Window, ct);
            await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS report_templates (name TEXT NOT NULL)", ct);
            await ExecuteAsync(connection, "INSERT INTO report_templates (name) VALUES ('daily'), ('weekly'), ('monthly')", ct);
            if (concurrent)
            {
                await RaceWindow.MeetAsync("reports-seeded", TimeSpan.FromSeconds(10), ct);
            }
        }

        return connection;
    }

    private static SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        return connection;
    }

    private static async Task<bool> IsSetUpAsync(SqliteConnection connection, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'report_templates'";
        return (long)(await command.ExecuteScalarAsync(ct))! > 0;
    }

    public static async Task<long> CountTemplatesAsync(SqliteConnection connection, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM report_templates";
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(ct);
    }
}

// PLANTED (seed 003), with StockReportTests below: both pass alone and one after the other; run in parallel, both
// set the shared reporting database up at once and both fail. The fix: one database per test, or set up under a lock.
public sealed class SalesReportTests
{
    [Fact]
    public async Task The_sales_report_offers_the_three_standard_periods()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await SharedReportsDatabase.OpenAsync(ct);

        Assert.Equal(3, await SharedReportsDatabase.CountTemplatesAsync(connection, ct));
    }
}

public sealed class StockReportTests
{
    [Fact]
    public async Task The_stock_report_offers_the_three_standard_periods()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await SharedReportsDatabase.OpenAsync(ct);

        Assert.Equal(3, await SharedReportsDatabase.CountTemplatesAsync(connection, ct));
    }
}
