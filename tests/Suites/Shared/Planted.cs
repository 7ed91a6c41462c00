using System.Data.Common;
using Deflake;
using Deflake.Sqlite;

namespace PlantedSuites;

/// <summary>
/// The bodies of the planted flaky tests (and their correct neighbours) that the xUnit v2, NUnit and MSTest suites
/// share, written once without a test framework: each suite's test classes call these, and a failed check throws.
/// Every database is <see cref="TestDatabase.Current"/>: the suites get it without a base class.
/// </summary>
public static class Planted
{
    /// <summary>The schema: orders with their audit rows, and customers.</summary>
    public static SchemaSource Schema { get; } = SchemaSource.FromDelegate("planted-suites", "1", async (connection, ct) =>
    {
        await ExecuteAsync(connection, "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL)", ct);
        await ExecuteAsync(connection, "CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL, action TEXT NOT NULL)", ct);
        await ExecuteAsync(connection, "CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)", ct);
    });

    /// <summary>The engine of the suites' pools.</summary>
    public static IDatabaseEngine Engine() => new SqliteEngine();

    /// <summary>The options of the suites' pools.</summary>
    public static TestDatabaseOptions Options() => new() { Schema = Schema };

    // ---- Order-dependent pair through static state ----

    private static readonly List<string> Plugins = [];

    /// <summary>POLLUTER: registers a plugin in a process-wide registry and never takes it out.</summary>
    public static void RegisterAPlugin()
    {
        lock (Plugins)
        {
            Plugins.Add("audit-export");
            Check(Plugins.Contains("audit-export"), "the plugin was not registered");
        }
    }

    /// <summary>PLANTED (order): expects the registry to be empty, as it is only when nothing registered before it.</summary>
    public static void ANewRegistryIsEmpty()
    {
        lock (Plugins)
        {
            Check(Plugins.Count == 0, $"expected no plugins, found {Plugins.Count}: {string.Join(", ", Plugins)}");
        }
    }

    // ---- Identity alignment ----

    /// <summary>PLANTED (identities): reads the audit row of an order by the order's id, which holds only while both tables count alike.</summary>
    public static async Task TheAuditRowOfAnOrderCanBeReadBackAsync()
    {
        await using var connection = await TestDatabase.Current.OpenConnectionAsync();
        var order = await InsertAsync(connection, "INSERT INTO orders (item) VALUES ('mug') RETURNING id");
        await InsertAsync(connection, $"INSERT INTO audit_log (order_id, action) VALUES ({order}, 'created') RETURNING id");

        var orderId = await ScalarAsync(connection, $"SELECT order_id FROM audit_log WHERE id = {order}");
        Check(orderId == order, $"no audit row with id {order} for order {order}");
    }

    /// <summary>Correct: reads the audit row by the order it belongs to.</summary>
    public static async Task TheAuditRowOfAnOrderIsFoundByItsOrderAsync()
    {
        await using var connection = await TestDatabase.Current.OpenConnectionAsync();
        var order = await InsertAsync(connection, "INSERT INTO orders (item) VALUES ('cap') RETURNING id");
        await InsertAsync(connection, $"INSERT INTO audit_log (order_id, action) VALUES ({order}, 'created') RETURNING id");

        Check(await ScalarAsync(connection, $"SELECT COUNT(*) FROM audit_log WHERE order_id = {order}") == 1, "no audit row for the order");
    }

    // ---- Row order ----

    /// <summary>PLANTED (rows): reads customers without ORDER BY and expects the order they signed up in.</summary>
    public static async Task CustomersAreListedInTheOrderTheySignedUpAsync()
    {
        await using var connection = await TestDatabase.Current.OpenConnectionAsync();
        foreach (var name in new[] { "Ann", "Ben", "Cat" })
        {
            await InsertAsync(connection, $"INSERT INTO customers (name) VALUES ('{name}') RETURNING id");
        }

        await ExecuteAsync(connection, "DELETE FROM customers WHERE name = 'Ann'", default);
        await InsertAsync(connection, "INSERT INTO customers (name) VALUES ('Ann') RETURNING id");
        for (var read = 0; read < 12; read++)
        {
            var names = await NamesAsync(connection, "SELECT name FROM customers");
            Check(names == "Ben,Cat,Ann", $"expected Ben,Cat,Ann, read {names}");
        }
    }

    /// <summary>Correct: lists customers by name, with ORDER BY.</summary>
    public static async Task CustomersAreListedByNameAsync()
    {
        await using var connection = await TestDatabase.Current.OpenConnectionAsync();
        foreach (var name in new[] { "Zoe", "Adam", "Mia" })
        {
            await InsertAsync(connection, $"INSERT INTO customers (name) VALUES ('{name}') RETURNING id");
        }

        var names = await NamesAsync(connection, "SELECT name FROM customers ORDER BY name");
        Check(names == "Adam,Mia,Zoe", $"expected Adam,Mia,Zoe, read {names}");
    }

    // ---- Parallel collision ----

    private static int _sandboxBalance;

    /// <summary>PLANTED (collision): charges the one shared sandbox account, and expects the balance it would have alone.</summary>
    public static Task ChargingTheSandboxAccountLowersItsBalanceAsync() => ChangeSandboxAsync(-30, 70);

    /// <summary>PLANTED (collision): refunds to the one shared sandbox account, and expects the balance it would have alone.</summary>
    public static Task RefundingToTheSandboxAccountRaisesItsBalanceAsync() => ChangeSandboxAsync(+50, 150);

    private static async Task ChangeSandboxAsync(int change, int expected)
    {
        Interlocked.Exchange(ref _sandboxBalance, 100);
        // The payment provider takes a while: long enough for a test running at the same time to change it too.
        await Task.Delay(400);
        Interlocked.Add(ref _sandboxBalance, change);
        await Task.Delay(400);
        var balance = Volatile.Read(ref _sandboxBalance);
        Check(balance == expected, $"expected a balance of {expected}, found {balance}");
    }

    // ---- Helpers ----

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }

    private static async Task<long> InsertAsync(DbConnection connection, string sql) => await ScalarAsync(connection, sql);

    private static async Task<long> ScalarAsync(DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<string> NamesAsync(DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var names = new List<string>();
        while (await reader.ReadAsync())
        {
            names.Add(reader.GetString(0));
        }

        return string.Join(',', names);
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(ct);
    }
}
