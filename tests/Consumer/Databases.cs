using Deflake;
using Deflake.Postgres;
using Deflake.Sqlite;
using Deflake.Xunit;

[assembly: AssemblyFixture(typeof(Consumer.Tests.SqliteDatabase))]
[assembly: AssemblyFixture(typeof(Consumer.Tests.PostgresDatabase))]

namespace Consumer.Tests;

/// <summary>A SQLite pool, as a user would declare it.</summary>
public sealed class SqliteDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => new SqliteEngine();

    protected override TestDatabaseOptions CreateOptions() => new()
    {
        Schema = SchemaSource.FromSqlDirectory(Path.Combine(AppContext.BaseDirectory, "migrations")),
    };
}

/// <summary>A PostgreSQL pool on the throwaway local server.</summary>
public sealed class PostgresDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => new PostgresEngine();

    protected override TestDatabaseOptions CreateOptions() => new()
    {
        Schema = SchemaSource.FromSqlDirectory(Path.Combine(AppContext.BaseDirectory, "migrations")),
    };
}
