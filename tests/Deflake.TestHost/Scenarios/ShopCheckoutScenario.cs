using Deflake;
using Deflake.Coordination;
using Microsoft.Data.Sqlite;

/// <summary>
/// Seed 004 ported: "tests" that log in as one of a few shared accounts, empty its cart, add items, check out and
/// assert that the order holds exactly their items. The shop lives in a SQLite file every child opens.
/// Args: --db FILE --backend local|postgres|none [--dir DIR] [--tests 50] [--accounts 3] [--items 3] [--go FILE] [--resource accounts].
/// With <c>none</c>, test i logs in as account i % accounts, as the seed did before it leased.
/// Prints <c>result tests=N collisions=K</c>; exit code 0 unless something other than a collision failed.
/// </summary>
public sealed class ShopCheckoutScenario : IScenario
{
    public string Name => "shop";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new LeaseScenarioArgs(args);
        var accounts = Enumerable.Range(0, options.GetInt("accounts", 3)).Select(i => $"account-{i}").ToArray();
        var tests = options.GetInt("tests", 50);
        var items = options.GetInt("items", 3);
        await using var leases = options.CreateLeases();
        await using var shop = await OpenShopAsync(options.Get("db"), accounts, cancellationToken);

        if (leases is not null)
        {
            // Warm up the lease path so the start barrier releases hot processes.
            await using var warm = await leases.AcquireAsync("warm-up", [$"w-{Environment.ProcessId}"], TimeSpan.FromSeconds(10), cancellationToken);
        }

        await options.WaitForGoAsync(cancellationToken);
        var collisions = 0;
        for (var test = 0; test < tests; test++)
        {
            LeaseScenarioArgs.CurrentTest.Value = $"Checkout_{test}";
            var lease = leases is null ? null : await leases.AcquireAsync(options.Get("resource", "accounts"), accounts, TimeSpan.FromSeconds(30), cancellationToken);
            try
            {
                var account = lease?.Value ?? accounts[test % accounts.Length];
                var failure = await PlaceOrderAsync(shop, account, items, cancellationToken);
                if (failure is not null)
                {
                    collisions++;
                    if (collisions <= 3)
                    {
                        Console.WriteLine($"collision in {DeflakeWorker.Id} test {test} on {account}: {failure}");
                    }
                }
            }
            finally
            {
                if (lease is not null)
                {
                    await lease.DisposeAsync();
                }
            }
        }

        Console.WriteLine($"result tests={tests} collisions={collisions}");
        return 0;
    }

    /// <summary>One test of the seed: returns null when the order is exactly this test's items, else what went wrong.</summary>
    private static async Task<string?> PlaceOrderAsync(SqliteConnection shop, string account, int items, CancellationToken cancellationToken)
    {
        await ExecuteAsync(shop, "DELETE FROM cart_items WHERE account = $account", cancellationToken, ("$account", account));
        var mine = new List<string>();
        for (var i = 0; i < items; i++)
        {
            var item = UniqueValue.Name("item");
            mine.Add(item);
            await ExecuteAsync(shop, "INSERT INTO cart_items (account, item) VALUES ($account, $item)", cancellationToken, ("$account", account), ("$item", item));
            await Task.Delay(1, cancellationToken); // a browser between clicks
        }

        long orderId;
        using (var transaction = shop.BeginTransaction())
        {
            using var order = shop.CreateCommand();
            order.Transaction = transaction;
            order.CommandText = "INSERT INTO orders (account, placed_by) VALUES ($account, $by) RETURNING id";
            order.Parameters.AddWithValue("$account", account);
            order.Parameters.AddWithValue("$by", DeflakeWorker.Id);
            orderId = (long)(await order.ExecuteScalarAsync(cancellationToken))!;
            using var lines = shop.CreateCommand();
            lines.Transaction = transaction;
            lines.CommandText = """
                INSERT INTO order_lines (order_id, item) SELECT $order, item FROM cart_items WHERE account = $account;
                DELETE FROM cart_items WHERE account = $account;
                """;
            lines.Parameters.AddWithValue("$order", orderId);
            lines.Parameters.AddWithValue("$account", account);
            await lines.ExecuteNonQueryAsync(cancellationToken);
            transaction.Commit();
        }

        using var read = shop.CreateCommand();
        read.CommandText = "SELECT item FROM order_lines WHERE order_id = $order ORDER BY item";
        read.Parameters.AddWithValue("$order", orderId);
        var ordered = new List<string>();
        using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                ordered.Add(reader.GetString(0));
            }
        }

        mine.Sort(StringComparer.Ordinal);
        return ordered.SequenceEqual(mine, StringComparer.Ordinal)
            ? null
            : $"expected [{string.Join(", ", mine)}] but order {orderId} has [{string.Join(", ", ordered)}]";
    }

    private static async Task<SqliteConnection> OpenShopAsync(string path, string[] accounts, CancellationToken cancellationToken)
    {
        // One child creates the schema; the others wait on the lock and find it there.
        await using var setup = await CrossProcessLock.AcquireAsync(path + ".setup.lock", TimeSpan.FromSeconds(30), cancellationToken);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = 30 }.ToString());
        await connection.OpenAsync(cancellationToken);
        await ExecuteAsync(connection, """
            PRAGMA busy_timeout = 30000;
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS cart_items (id INTEGER PRIMARY KEY, account TEXT NOT NULL REFERENCES accounts (name), item TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, account TEXT NOT NULL REFERENCES accounts (name), placed_by TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS order_lines (order_id INTEGER NOT NULL REFERENCES orders (id), item TEXT NOT NULL);
            """, cancellationToken);
        foreach (var account in accounts)
        {
            await ExecuteAsync(connection, "INSERT OR IGNORE INTO accounts (name) VALUES ($name)", cancellationToken, ("$name", account));
        }

        return connection;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
