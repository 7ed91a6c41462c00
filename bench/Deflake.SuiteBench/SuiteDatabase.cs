using System.Data.Common;
using System.Globalization;
using System.Text;
using Deflake.MariaDb;
using Deflake.Postgres;
using Deflake.Sqlite;

[assembly: AssemblyFixture(typeof(Deflake.SuiteBench.SuiteDatabase))]

namespace Deflake.SuiteBench;

/// <summary>
/// The suite's database, as <c>SUITE_ENGINE</c> (<c>postgres</c>, <c>mariadb</c>, <c>sqlite</c>) and <c>SUITE_MODE</c> say:
/// <c>shared</c> (one database for every test, no isolation), <c>rollback</c> (the shared database, each test in a
/// transaction rolled back), <c>reseed</c> (the shared database, every table emptied and its seed rows re-inserted after
/// each test; tests then run one at a time, as such suites must), <c>recycle</c> (Deflake, recycling on) and <c>clone</c>
/// (Deflake, a new clone per test). The shared database is one database rented from a Deflake pool and held for the run.
/// </summary>
public sealed class SuiteDatabase : IAsyncLifetime
{
    public const int Tables = 20;
    public const int SeedRows = 50;
    private static int s_nextId = 1_000_000;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private TestDatabasePool _pool = null!;
    private TestDatabase? _shared;

    public string Mode { get; } = Environment.GetEnvironmentVariable("SUITE_MODE") ?? "recycle";

    public string Engine { get; } = Environment.GetEnvironmentVariable("SUITE_ENGINE") ?? "sqlite";

    public static string Schema { get; } = BuildSchema();

    public static string SeedSql { get; } = BuildSeed();

    public async ValueTask InitializeAsync()
    {
        IDatabaseEngine engine = Engine switch
        {
            "postgres" => new PostgresEngine(),
            "mariadb" => new MariaDbEngine(),
            "sqlite" => new SqliteEngine(),
            _ => throw new InvalidOperationException($"SUITE_ENGINE is '{Engine}'; use postgres, mariadb or sqlite."),
        };
        _pool = await TestDatabasePool.CreateAsync(engine, new TestDatabaseOptions
        {
            Schema = SchemaSource.FromDelegate("suite-bench", "suite-bench-v1", async (connection, ct) =>
            {
                await using var command = connection.CreateCommand();
                command.CommandText = Schema + SeedSql;
                await command.ExecuteNonQueryAsync(ct);
            }),
            Chaos = ChaosModes.None,
            Seed = 1,
            Recycle = Mode != "clone",
        });
        if (Mode is "shared" or "rollback" or "reseed")
        {
            _shared = await _pool.RentAsync();
        }
        else if (Mode is not ("recycle" or "clone"))
        {
            throw new InvalidOperationException($"SUITE_MODE is '{Mode}'; use shared, rollback, reseed, recycle or clone.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_shared is not null)
        {
            await _shared.DisposeAsync();
        }

        await _pool.DisposeAsync();
        _oneAtATime.Dispose();
    }

    /// <summary>One test: writes 3 rows in 2 tables, reads one seeded row, under the suite's isolation.</summary>
    public async Task RunTestAsync(CancellationToken cancellationToken)
    {
        switch (Mode)
        {
            case "shared":
            {
                await using var connection = await _shared!.OpenConnectionAsync(cancellationToken);
                await BodyAsync(connection, null, cancellationToken);
                break;
            }

            case "rollback":
            {
                await using var connection = await _shared!.OpenConnectionAsync(cancellationToken);
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await BodyAsync(connection, transaction, cancellationToken);
                await transaction.RollbackAsync(cancellationToken);
                break;
            }

            case "reseed":
            {
                await _oneAtATime.WaitAsync(cancellationToken);
                try
                {
                    await using var connection = await _shared!.OpenConnectionAsync(cancellationToken);
                    await BodyAsync(connection, null, cancellationToken);
                    await using var command = connection.CreateCommand();
                    command.CommandText = string.Concat(Enumerable.Range(1, Tables).Select(t => $"DELETE FROM t{t:00};")) + SeedSql;
                    await command.ExecuteNonQueryAsync(cancellationToken);
                }
                finally
                {
                    _oneAtATime.Release();
                }

                break;
            }

            default:
            {
                await using var database = await _pool.RentAsync(cancellationToken);
                await using var connection = await database.OpenConnectionAsync(cancellationToken);
                await BodyAsync(connection, null, cancellationToken);
                break;
            }
        }
    }

    private static async Task BodyAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        var id = Interlocked.Add(ref s_nextId, 3) - 3;
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = string.Create(CultureInfo.InvariantCulture,
            $"INSERT INTO t01 (id, name, amount) VALUES ({id}, 'a', 1), ({id + 1}, 'b', 2); INSERT INTO t02 (id, name, amount) VALUES ({id + 2}, 'c', 3);");
        await command.ExecuteNonQueryAsync(cancellationToken);
        command.CommandText = "SELECT amount FROM t07 WHERE id = 3";
        Assert.Equal(21L, Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture));
    }

    private static string BuildSchema()
    {
        var sql = new StringBuilder();
        for (var t = 1; t <= Tables; t++)
        {
            sql.Append(CultureInfo.InvariantCulture,
                $"CREATE TABLE t{t:00} (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, amount INTEGER NOT NULL, note VARCHAR(100));\n");
            sql.Append(CultureInfo.InvariantCulture, $"CREATE INDEX ix_t{t:00}_name ON t{t:00} (name);\n");
        }

        return sql.ToString();
    }

    private static string BuildSeed()
    {
        var sql = new StringBuilder();
        for (var t = 1; t <= Tables; t++)
        {
            sql.Append(CultureInfo.InvariantCulture, $"INSERT INTO t{t:00} (id, name, amount, note) VALUES ");
            sql.Append(string.Join(", ", Enumerable.Range(1, SeedRows).Select(r => string.Create(CultureInfo.InvariantCulture, $"({r}, 'row {r}', {r * 7}, 'seeded')"))));
            sql.Append(";\n");
        }

        return sql.ToString();
    }
}
