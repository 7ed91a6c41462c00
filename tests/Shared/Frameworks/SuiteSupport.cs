using System.Data.Common;
using System.Globalization;
using Deflake.Internal;
using Deflake.Sqlite;

namespace Deflake.Frameworks;

/// <summary>
/// What the xUnit v2, NUnit and MSTest test projects share: the schema of their SQLite databases, the seed-002 and
/// no-cross-talk checks on <see cref="TestDatabase.Current"/>, and running the project's own order suite as a child
/// test process (<c>dotnet test the.dll --filter …</c>), reading the order its tests ran in.
/// </summary>
public static class SuiteSupport
{
    /// <summary>The file the order suite's tests append their ids to, when set.</summary>
    public const string OrderLogVariable = "DEFLAKE_SUITE_ORDER_LOG";

    /// <summary>A table with one row: each test adds its own rows and counts them.</summary>
    public static SchemaSource Schema { get; } = SchemaSource.FromDelegate("frameworks-items", "1", async (connection, ct) =>
    {
        await ExecuteAsync(connection, "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL)", ct);
        await ExecuteAsync(connection, "INSERT INTO items (owner) VALUES ('template')", ct);
    });

    /// <summary>The engine of the test projects.</summary>
    public static IDatabaseEngine Engine() => new SqliteEngine();

    /// <summary>The options of the test projects' pools.</summary>
    public static TestDatabaseOptions Options() => new() { Schema = Schema };

    /// <summary>
    /// Appends a test id and the chaos modes of its <see cref="TestDatabase.Current"/> to the order log, when the order
    /// suite runs as a child (no-op otherwise).
    /// </summary>
    public static void RecordOrder(string testId)
    {
        if (Environment.GetEnvironmentVariable(OrderLogVariable) is { Length: > 0 } path)
        {
            var modes = TestDatabase.CurrentOrNull is { } database ? ChaosModeNames.Format(database.Chaos) : "no database";
            lock (typeof(SuiteSupport))
            {
                File.AppendAllText(path, $"{testId}\t{modes}\n");
            }
        }
    }

    /// <summary>
    /// Seed 002: a test inserts <paramref name="rows"/> rows of its own into <see cref="TestDatabase.Current"/> while
    /// others do the same in parallel, and returns how many rows its database then has (1 + rows when isolated).
    /// </summary>
    public static async Task<long> InsertAndCountAsync(string owner, int rows, CancellationToken cancellationToken = default)
    {
        var database = TestDatabase.Current;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        for (var row = 0; row < rows; row++)
        {
            await ExecuteAsync(connection, $"INSERT INTO items (owner) VALUES ('{owner}')", cancellationToken);
            await Task.Yield();
        }

        if (!ReferenceEquals(database, TestDatabase.Current))
        {
            throw new InvalidOperationException($"TestDatabase.Current changed during the test {owner}.");
        }

        return await ScalarAsync(connection, "SELECT COUNT(*) FROM items", cancellationToken);
    }

    /// <summary>The owners other than the template's in <see cref="TestDatabase.Current"/>.</summary>
    public static async Task<string[]> OwnersAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await TestDatabase.Current.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT owner FROM items WHERE owner <> 'template' ORDER BY owner";
        var owners = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            owners.Add(reader.GetString(0));
        }

        return [.. owners];
    }

    /// <summary>The result of a child test run: the order its suite tests ran in, the chaos modes of each one's database, and what it wrote to <c>DEFLAKE_ACTIVITY</c>.</summary>
    public sealed record ChildRun(int ExitCode, string Output, IReadOnlyList<string> Order, IReadOnlyDictionary<string, string> Chaos, IReadOnlyList<string> Activity);

    /// <summary>
    /// Runs the test assembly <paramref name="assemblyPath"/> with <c>dotnet test</c> from a temporary folder, with
    /// <paramref name="filter"/> and the given environment, and reads the order its order-suite tests ran in.
    /// </summary>
    public static Task<ChildRun> RunChildAsync(string assemblyPath, string filter, IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken = default)
        => RunChildAsync(["test", assemblyPath, "--filter", filter], environment, cancellationToken);

    /// <summary>Runs <c>dotnet</c> with <paramref name="arguments"/> from a temporary folder, and reads the order its order-suite tests ran in.</summary>
    public static async Task<ChildRun> RunChildAsync(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken = default)
    {
        var folder = Directory.CreateTempSubdirectory("deflake-frameworks-").FullName;
        try
        {
            var log = Path.Combine(folder, "order.log");
            var activity = Path.Combine(folder, "activity.log");
            var env = new Dictionary<string, string>(environment, StringComparer.Ordinal)
            {
                [OrderLogVariable] = log,
                [DeflakeEnvironment.Activity] = activity,
                ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
                ["DOTNET_NOLOGO"] = "1",
            };
            var run = await ProcessRunner.RunAsync("dotnet", arguments, TimeSpan.FromMinutes(5), env, cancellationToken);
            var lines = File.Exists(log) ? (await File.ReadAllLinesAsync(log, cancellationToken)).Where(l => l.Length > 0).Select(l => l.Split('\t')).ToArray() : [];
            var activityLines = File.Exists(activity) ? await File.ReadAllLinesAsync(activity, cancellationToken) : [];
            return new ChildRun(run.ExitCode, run.Output + run.Error, [.. lines.Select(l => l[0])],
                lines.GroupBy(l => l[0], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal), activityLines);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<long> ScalarAsync(DbConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }
}
