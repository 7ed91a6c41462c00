using Deflake.Sqlite;

namespace Deflake.EntityFrameworkCore.Tests;

/// <summary>SQLite pools in a folder of their own, deleted when the test class is done.</summary>
public sealed class SqlitePools : IDisposable
{
    public string Directory { get; } = Path.Combine(Path.GetTempPath(), $"deflake-efcore-tests-{Environment.ProcessId}-{Guid.NewGuid():N}");

    public async Task<(TestDatabasePool Pool, SqliteEngine Engine)> CreateAsync(SchemaSource schema, ChaosModes chaos = ChaosModes.None, int seed = 1)
    {
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = Directory });
        var pool = await TestDatabasePool.CreateAsync(engine, new TestDatabaseOptions
        {
            Schema = schema,
            Chaos = chaos,
            Seed = seed,
            PoolSize = 1,
            RemoveOrphansOnStart = false,
        }, TestContext.Current.CancellationToken);
        return (pool, engine);
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
