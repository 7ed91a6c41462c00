using System.Data.Common;

namespace Deflake.Postgres.Tests;

/// <summary>Schemas for tests. Each call gives a new version, so each test gets a template of its own.</summary>
public static class TestSchemas
{
    public const string ItemsTable = """
        create table items (id int generated always as identity primary key, name text not null);
        insert into items (name) values ('seed-1'), ('seed-2');
        """;

    /// <summary>A delegate schema with a fresh version (a new template) running <paramref name="sql"/>.</summary>
    public static SchemaSource Fresh(string sql = ItemsTable, string? version = null)
        => FreshNamed(version ?? Guid.NewGuid().ToString("N"), sql);

    // A name of its own per version: a schema name is a template lineage, and templates of one lineage supersede each
    // other (so parallel tests, or two copies of this suite, would drop each other's disposed templates).
    private static SchemaSource FreshNamed(string version, string sql)
        => SchemaSource.FromDelegate("test:" + version, version, (connection, cancellationToken) => ExecuteAsync(connection, sql, cancellationToken));

    public static async Task ExecuteAsync(DbConnection connection, string sql, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<T> ScalarAsync<T>(DbConnection connection, string sql, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Pool options for tests: small pool, the given schema, orphan collection on.</summary>
    public static TestDatabaseOptions Options(SchemaSource schema, int poolSize = 2) => new()
    {
        Schema = schema,
        PoolSize = poolSize,
        KeepFailed = false,
        Chaos = ChaosModes.None,
        Seed = 1,
    };
}
