using Deflake.Sqlite;
using Deflake.Testing;
using Microsoft.Extensions.Logging;

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
        var line = WarningForwarder.Format("Deflake could not drop x.db; it will be collected later", new IOException("disk gone\nsecond line"));

        Assert.Equal("Deflake warning: could not drop x.db; it will be collected later (IOException: disk gone)", line);
    }

    [Fact]
    public void Warnings_are_kept_for_the_next_test_once_and_everything_still_reaches_the_users_logger()
    {
        var users = new Lines();
        var diagnostics = new List<string>();
        var forwarder = new WarningForwarder(users, diagnostics.Add);
        var logger = forwarder.CreateLogger("Deflake");

        logger.LogInformation("Deflake built the template");
        logger.LogWarning("Deflake identities does not cover {Count} table(s): {Tables}", 1, "plain");

        Assert.Equal(["Information: Deflake built the template", "Warning: Deflake identities does not cover 1 table(s): plain"], users.Logged);
        Assert.Equal(["Deflake warning: identities does not cover 1 table(s): plain"], diagnostics);
        Assert.Equal(["Deflake warning: identities does not cover 1 table(s): plain"], forwarder.TakePending());
        Assert.Empty(forwarder.TakePending());
        Assert.Single(forwarder.Warnings);
    }

    private sealed class Lines : ILoggerFactory, ILogger
    {
        public List<string> Logged { get; } = [];

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => Logged.Add($"{logLevel}: {formatter(state, exception)}");

        public void Dispose()
        {
        }
    }
}
