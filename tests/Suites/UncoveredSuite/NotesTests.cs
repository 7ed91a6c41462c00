using Deflake;
using Deflake.Sqlite;
using Deflake.Xunit;
using Deflake.Xunit.Ordering;

[assembly: AssemblyFixture(typeof(UncoveredSuite.NotesDatabase))]
[assembly: DeflakeOrder]

namespace UncoveredSuite;

/// <summary>
/// One AUTOINCREMENT table, which identities covers, and two rowid tables without AUTOINCREMENT (<c>notes</c>,
/// <c>tags</c>), which it cannot: SQLite keeps no counter for them.
/// </summary>
public sealed class NotesDatabase : DeflakeFixture
{
    public const string Sql = """
        CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL);
        CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
        CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        """;

    protected override IDatabaseEngine CreateEngine() => new SqliteEngine();

    protected override TestDatabaseOptions CreateOptions() => new()
    {
        Schema = SchemaSource.FromDelegate("uncovered-suite", "1", async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = Sql;
            await command.ExecuteNonQueryAsync(ct);
        }),
    };
}

/// <summary>Correct tests: each reads back the row it wrote by the id it got, so no chaos mode breaks them.</summary>
public sealed class NotesTests(NotesDatabase db) : DatabaseTest<NotesDatabase>(db)
{
    [Fact]
    public async Task A_note_is_read_back_by_its_own_id()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        await using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO notes (body) VALUES ('hello') RETURNING id";
        var id = (long)(await insert.ExecuteScalarAsync(ct))!;
        await using var read = connection.CreateCommand();
        read.CommandText = $"SELECT body FROM notes WHERE id = {id}";

        Assert.Equal("hello", await read.ExecuteScalarAsync(ct));
    }
}

public sealed class OrderTests(NotesDatabase db) : DatabaseTest<NotesDatabase>(db)
{
    [Fact]
    public async Task An_order_is_read_back_by_its_own_id()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await Database.OpenConnectionAsync(ct);
        await using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO orders (item) VALUES ('mug') RETURNING id";
        var id = (long)(await insert.ExecuteScalarAsync(ct))!;
        await using var read = connection.CreateCommand();
        read.CommandText = $"SELECT item FROM orders WHERE id = {id}";

        Assert.Equal("mug", await read.ExecuteScalarAsync(ct));
    }
}
