using System.Data.Common;
using Deflake.Chaos.Stories;

namespace Deflake.MariaDb.Tests.Chaos;

public sealed class MariaDbIdentityChaosTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Seed 000's schema (foos, bars, audit_log) plus tags, in MariaDB's dialect; one version per template.</summary>
    private static readonly SchemaSource StorySchema = SchemaSource.FromDelegate("mariadb-identity-story", "1", async (connection, ct) =>
    {
        await using var command = connection.CreateCommand();
        command.CommandText = """
            CREATE TABLE foos (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL);
            CREATE TABLE bars (id INT AUTO_INCREMENT PRIMARY KEY, foo_id INT NOT NULL, FOREIGN KEY (foo_id) REFERENCES foos (id));
            CREATE TABLE audit_log (id BIGINT AUTO_INCREMENT PRIMARY KEY, entity VARCHAR(20) NOT NULL, entity_id BIGINT NOT NULL, action VARCHAR(20) NOT NULL);
            CREATE TABLE tags (id SMALLINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL);
            """;
        await command.ExecuteNonQueryAsync(ct);
    });

    private static Task<T> WithDatabaseAsync<T>(ChaosModes chaos, int seed, Func<DbConnection, Task<T>> test)
        => MariaDbTestServer.WithDatabaseAsync(StorySchema, chaos, seed, test, Token);

    [Fact]
    public async Task The_audit_row_looked_up_by_the_wrong_id_is_found_without_chaos()
    {
        Assert.True(await WithDatabaseAsync(ChaosModes.None, 1, c => ChaosStories.AuditRowFoundByTheWrongIdAsync(c, Token)));
    }

    [Fact]
    public async Task The_audit_row_looked_up_by_the_wrong_id_is_missed_under_identities_for_100_of_100_seeds()
    {
        // Through the engine: one identities template per seed (as the pool would build), a clone of each.
        await using var engine = await MariaDbTestServer.CreateEngineAsync();
        var version = await engine.StartAsync(new EngineContext(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System, ChaosModes.Identities, 0), Token);
        var digest = await StorySchema.ComputeFingerprintAsync(Token);
        var passed = new System.Collections.Concurrent.ConcurrentBag<int>();
        await Parallel.ForEachAsync(Enumerable.Range(1, 100), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Token }, async (seed, _) =>
        {
            var fingerprint = Fingerprint.Compute(engine.Kind, version, digest, $"identities:{seed}");
            var template = await engine.EnsureTemplateAsync(new TemplateRequest(fingerprint, StorySchema, ChaosModes.Identities, seed), Token);
            var clone = await engine.CreateCloneAsync(template, Token);
            try
            {
                await using var connection = engine.CreateConnection(clone);
                await connection.OpenAsync(Token);
                if (await ChaosStories.AuditRowFoundByTheWrongIdAsync(connection, Token))
                {
                    passed.Add(seed);
                }
            }
            finally
            {
                await engine.DropCloneAsync(clone, Token);
            }
        });

        Assert.Empty(passed);
    }

    [Fact]
    public async Task Under_identities_each_table_starts_at_its_planned_start_and_a_too_small_column_is_left_alone()
    {
        var plan = IdentityRangePlan.Create(7, ["audit_log.id", "bars.id", "foos.id", "tags.id"]);
        var (ids, tag, found) = await WithDatabaseAsync(ChaosModes.Identities, 7, async connection =>
        {
            var ids = await ChaosStories.CreateFooAsync(connection, "x", Token);
            var tag = await ChaosStories.ScalarAsync(connection, "INSERT INTO tags (name) VALUES ('t') RETURNING id", Token);
            await ChaosStories.ExecuteAsync(connection, "DELETE FROM foos WHERE 1 = 0", Token);
            var found = await ChaosStories.AuditRowFoundByTheWrongIdAsync(connection, Token);
            return (ids, tag, found);
        });

        Assert.Equal((plan.StartOf("foos.id"), plan.StartOf("bars.id")), ids);
        Assert.Equal(1, tag); // SMALLINT cannot hold a range of a million: not covered, counts from 1
        Assert.False(found);
    }

    [Fact]
    public async Task Truncate_sends_a_chaos_range_back_to_1_as_docs_chaos_md_says()
    {
        var after = await WithDatabaseAsync(ChaosModes.Identities, 11, async connection =>
        {
            await ChaosStories.CreateFooAsync(connection, "x", Token);
            await ChaosStories.ExecuteAsync(connection, "SET FOREIGN_KEY_CHECKS = 0; TRUNCATE bars; TRUNCATE foos; SET FOREIGN_KEY_CHECKS = 1", Token);
            return await ChaosStories.ScalarAsync(connection, "INSERT INTO foos (name) VALUES ('y') RETURNING id", Token);
        });

        Assert.Equal(1, after);
    }

    [Fact]
    public async Task Chaos_all_runs_identities_and_rows_on_mariadb()
    {
        // Until rows came to MariaDB, rows alone failed at pool start and 'all' ran identities only (MariaDbRowChaosTests has the rest).
        var plan = IdentityRangePlan.Create(5, ["audit_log.id", "bars.id", "foos.id", "tags.id"]);
        var (ids, order) = await WithDatabaseAsync(ChaosModes.All, 5, async c =>
        {
            var ids = await ChaosStories.CreateFooAsync(c, "x", Token);
            await ChaosStories.CreateFooAsync(c, "y", Token);
            return (ids, await ChaosStories.ReadAsync(c, "SELECT id FROM foos", Token));
        });

        Assert.Equal((plan.StartOf("foos.id"), plan.StartOf("bars.id")), ids);
        Assert.Equal([ids.FooId + 1, ids.FooId], order);
    }

    [Theory]
    [InlineData(ChaosModes.Identities)]
    [InlineData(ChaosModes.All)] // rows hides each base table under another name: the key is still the table's own
    public async Task A_column_too_small_for_a_range_is_named_on_the_template_built_and_on_the_template_reused(ChaosModes chaos)
    {
        // A fresh schema version: the first pool builds its template, the second reuses it and reads the catalog.
        var schema = SchemaSource.FromDelegate("mariadb-uncovered", Guid.NewGuid().ToString("N"), async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE flags (id TINYINT AUTO_INCREMENT PRIMARY KEY); CREATE TABLE foos (id INT AUTO_INCREMENT PRIMARY KEY)";
            await command.ExecuteNonQueryAsync(ct);
        });
        async Task<EngineTemplate> TemplateAsync()
        {
            await using var pool = await MariaDbTestServer.CreatePoolAsync(new TestDatabaseOptions
            {
                Schema = schema, Chaos = chaos, Seed = 9, PoolSize = 1, RemoveOrphansOnStart = true, // and superseded templates: this test makes a new one per run
            }, Token);
            return pool.Template;
        }

        var built = await TemplateAsync();
        var reused = await TemplateAsync();

        Assert.Equal((true, false), (built.WasBuilt, reused.WasBuilt));
        NotCoveredKey[] expected = [new("flags.id", "its type stops at 127")];
        Assert.Equal(expected, built.IdentitiesNotCovered);
        Assert.Equal(expected, reused.IdentitiesNotCovered);
    }
}
