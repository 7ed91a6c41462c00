// A suite pinning SQLitePCLRaw 2.1.x: a pool starts, a clone is rented and written. Prints "OK <SQLitePCLRaw version>".
using Deflake;
using Deflake.Sqlite;

var directory = Path.Combine(Path.GetTempPath(), "deflake-pcl21-" + Guid.NewGuid().ToString("N"));
try
{
    await using var pool = await TestDatabasePool.CreateAsync(new SqliteEngine(new SqliteEngineOptions { Directory = directory }), new TestDatabaseOptions
    {
        Schema = SchemaSource.FromDelegate("pcl21", "1", async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)";
            await command.ExecuteNonQueryAsync(ct);
        }),
        PoolSize = 1,
        Chaos = ChaosModes.All,
    });
    await using var database = await pool.RentAsync();
    await using var connection = await database.OpenConnectionAsync();
    await using var insert = connection.CreateCommand();
    insert.CommandText = "INSERT INTO t (name) VALUES ('a'); SELECT count(*) FROM t";
    var rows = Convert.ToInt64(await insert.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    Console.WriteLine(rows == 1 ? $"OK {typeof(SQLitePCL.raw).Assembly.GetName().Version}" : $"FAILED rows={rows}");
    return rows == 1 ? 0 : 1;
}
finally
{
    if (Directory.Exists(directory))
    {
        Directory.Delete(directory, recursive: true);
    }
}
