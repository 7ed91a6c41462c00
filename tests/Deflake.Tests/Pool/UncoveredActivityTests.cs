using System.Data.Common;

namespace Deflake.Tests.Pool;

/// <summary>DEFLAKE_ACTIVITY is process-wide: these tests run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(ActivityVariable), DisableParallelization = true)]
public sealed class ActivityVariable;

/// <summary>
/// The pool tells whoever started the process (deflake hunt) which keys identities could not cover, whatever the engine
/// (issue 17, item 7): the engine names them on its template, the pool writes one line per key.
/// </summary>
[Collection(nameof(ActivityVariable))]
public sealed class UncoveredActivityTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private async Task<string[]> ActivityOfAsync(ChaosModes chaos, params NotCoveredKey[] notCovered)
    {
        var file = Path.Combine(_directory.Path, $"activity-{Guid.NewGuid():N}.txt");
        var before = System.Environment.GetEnvironmentVariable(DeflakeEnvironment.Activity);
        try
        {
            System.Environment.SetEnvironmentVariable(DeflakeEnvironment.Activity, file);
            var options = new TestDatabaseOptions
            {
                Schema = SchemaSource.FromDelegate("uncovered", "v1", (_, _) => Task.CompletedTask),
                PoolSize = 1,
                Chaos = chaos,
                Seed = 1,
                KeepFailed = false,
                RemoveOrphansOnStart = false,
            };
            await using (var pool = await TestDatabasePool.CreateAsync(new TemplateOnlyEngine(notCovered), options, Token))
            {
            }

            return File.Exists(file) ? await File.ReadAllLinesAsync(file, Token) : [];
        }
        finally
        {
            System.Environment.SetEnvironmentVariable(DeflakeEnvironment.Activity, before);
        }
    }

    [Fact]
    public async Task Under_identities_a_pool_reports_each_key_its_template_does_not_cover_with_engine_and_reason_on_one_line()
    {
        var lines = await ActivityOfAsync(ChaosModes.Identities,
            new NotCoveredKey("tags", "no counter: INTEGER PRIMARY KEY without AUTOINCREMENT"), new NotCoveredKey("odd\tname", "two\nlines"));

        Assert.Equal(
            ["pool\tidentities", "uncovered\tfake\ttags\tno counter: INTEGER PRIMARY KEY without AUTOINCREMENT", "uncovered\tfake\todd name\ttwo lines"],
            lines);
    }

    [Fact]
    public async Task Without_identities_or_with_every_key_covered_a_pool_reports_none()
    {
        Assert.Equal(["pool\trows"], await ActivityOfAsync(ChaosModes.Rows, new NotCoveredKey("tags", "no counter")));
        Assert.Equal(["pool\tidentities"], await ActivityOfAsync(ChaosModes.Identities));
    }

    /// <summary>An engine whose template names what identities did not cover; it makes no clones (nothing is rented).</summary>
    private sealed class TemplateOnlyEngine(IReadOnlyList<NotCoveredKey> notCovered) : IDatabaseEngine
    {
        public string Kind => "fake";

        public Task<string> StartAsync(EngineContext context, CancellationToken cancellationToken = default) => Task.FromResult("1");

        public Task<EngineTemplate> EnsureTemplateAsync(TemplateRequest request, CancellationToken cancellationToken = default)
            => Task.FromResult(new EngineTemplate("template", request.Fingerprint, WasBuilt: true) { IdentitiesNotCovered = notCovered });

        public Task<EngineDatabase> CreateCloneAsync(EngineTemplate source, CancellationToken cancellationToken = default)
            => Task.FromResult(new EngineDatabase($"clone-{Guid.NewGuid():N}", "Data Source=nothing"));

        public Task DropCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task<string> KeepCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default) => Task.FromResult(database.Name);

        public DbConnection CreateConnection(EngineDatabase database) => throw new NotSupportedException("no connections in this engine");

        public Task<int> RemoveOrphansAsync(TimeSpan keptRetention, CancellationToken cancellationToken = default) => Task.FromResult(0);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
