using Deflake.Contract;
using Deflake.Coordination;

namespace Deflake.Sqlite.Tests;

/// <summary>
/// Template files of one lineage (same schema name and chaos modes, any version or seed) supersede each other: a pool
/// start keeps the two most recently used others and deletes the rest that no live pool, in any process, uses.
/// </summary>
public sealed class SqliteSupersededTemplateTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    // The layout a child process gets from DEFLAKE_CACHE_DIR: <cache>/sqlite/templates.
    private readonly string _cache = Path.Combine(Path.GetTempPath(), "deflake-sqlite-superseded-" + Guid.NewGuid().ToString("N"));

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private string Templates => Path.Combine(_cache, "sqlite", "templates");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_cache, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task A_fourth_template_of_a_lineage_deletes_the_least_recently_used_and_keeps_the_two_most_recent_and_itself()
    {
        var built = await BuildTemplatesAsync("lineage", seeds: 3);
        // Last use, not build order, decides: the second is the least recently used.
        SetLastUse(built[0], TimeSpan.FromHours(1));
        SetLastUse(built[1], TimeSpan.FromHours(3));
        SetLastUse(built[2], TimeSpan.FromHours(2));

        var log = new ListLoggerFactory();
        await using var fourth = await CreatePoolAsync("lineage", 4, log: log);

        Assert.False(File.Exists(built[1]));
        Assert.False(File.Exists(Sidecar(built[1])));
        Assert.All([built[0], built[2], fourth.Template.Name], template =>
        {
            Assert.True(File.Exists(template), $"{template} should be kept");
            Assert.True(File.Exists(Sidecar(template)), $"the sidecar of {template} should be kept");
        });
        Assert.Contains(log.Lines, line => line.StartsWith($"Information: Deflake removed SQLite template {built[1]}: superseded by {Path.GetFileName(fourth.Template.Name)}", StringComparison.Ordinal)
                                           && line.EndsWith(", unused", StringComparison.Ordinal));
        Assert.True(fourth.OrphansRemoved >= 1);
    }

    [Fact]
    public async Task A_superseded_template_a_live_pool_of_this_process_uses_is_kept_until_that_pool_is_disposed()
    {
        var live = await CreatePoolAsync("live", 1);
        try
        {
            string second;
            await using (var pool = await CreatePoolAsync("live", 2, keep: 0))
            {
                second = pool.Template.Name;
            }

            // Keep 0: every superseded template goes unless a live pool uses it.
            await using (var third = await CreatePoolAsync("live", 3, keep: 0))
            {
                Assert.True(File.Exists(live.Template.Name));
                Assert.False(File.Exists(second));
                await using var database = await live.RentAsync(Token); // still clonable
            }

            await live.DisposeAsync();
            await using var again = await CreatePoolAsync("live", 3, keep: 0);
            Assert.False(again.Template.WasBuilt);
            Assert.False(File.Exists(live.Template.Name));
            Assert.False(File.Exists(Sidecar(live.Template.Name)));
            Assert.True(File.Exists(again.Template.Name));
        }
        finally
        {
            await live.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_superseded_template_another_process_uses_is_kept_until_that_process_is_killed()
    {
        string held;
        using (var host = TestHostProcess.Start("hold-template", ["sqlite", "process", "1", "1"], new Dictionary<string, string> { ["DEFLAKE_CACHE_DIR"] = _cache }))
        {
            held = host.WaitForLine("template ", Patience)["template ".Length..];
            host.WaitForLine("ready", Patience);
            Assert.Equal(Templates, Path.GetDirectoryName(held));

            await BuildTemplatesAsync("process", seeds: 3, firstSeed: 2);

            // Seeds 3 and 2 are the two most recently used others; seed 1 is superseded, but the other process uses it.
            await using (var fourth = await CreatePoolAsync("process", 4))
            {
                Assert.True(File.Exists(held));
                Assert.True(CrossProcessLock.IsHeld(Sidecar(held)));
            }

            host.KillHard();
        }

        await using var next = await CreatePoolAsync("process", 4);
        Assert.False(next.Template.WasBuilt);
        Assert.False(File.Exists(held));
        Assert.False(File.Exists(Sidecar(held)));
    }

    [Fact]
    public async Task Templates_of_another_lineage_and_files_Deflake_did_not_name_are_never_superseded()
    {
        // Another lineage: the same schema name without chaos, and another schema name with the same chaos.
        var noChaos = (await BuildTemplatesAsync("mine", seeds: 1, chaos: ChaosModes.None))[0];
        var otherName = (await BuildTemplatesAsync("other", seeds: 1))[0];
        var first = (await BuildTemplatesAsync("mine", seeds: 1, keep: 0))[0];
        var lineage = await File.ReadAllTextAsync(Sidecar(first), Token);

        // In the templates folder with the lineage recorded, but not named by a fingerprint; and a fingerprint-named
        // file without a sidecar (no lineage: only the age rule may take it).
        string[] foreign = [Path.Combine(Templates, "notes.db"), Path.Combine(Templates, "0123456789ABCDEF0123.db"), Path.Combine(Templates, "0123456789abcdef0123.db")];
        foreach (var file in foreign.Take(2))
        {
            await File.WriteAllTextAsync(file, "mine", Token);
            await File.WriteAllTextAsync(Sidecar(file), lineage, Token);
        }

        await File.WriteAllTextAsync(foreign[2], "mine", Token);
        foreach (var file in foreign.Append(noChaos).Append(otherName))
        {
            SetLastUse(file, TimeSpan.FromDays(1));
        }

        await using var second = await CreatePoolAsync("mine", 2, keep: 0);

        Assert.False(File.Exists(first)); // the rule did run
        Assert.True(File.Exists(noChaos));
        Assert.True(File.Exists(otherName));
        Assert.All(foreign, file => Assert.True(File.Exists(file), $"{file} is not Deflake's to delete"));
        Assert.All(foreign.Take(2), file => Assert.True(File.Exists(Sidecar(file))));
    }

    [Fact]
    public async Task Without_KeepSupersededTemplates_every_superseded_template_is_kept()
    {
        var built = await BuildTemplatesAsync("keep-all", seeds: 4, keep: null);

        Assert.All(built, template => Assert.True(File.Exists(template), $"{template} should be kept"));
    }

    [Fact]
    public async Task A_template_unused_for_a_week_is_kept_while_a_live_pool_uses_it()
    {
        await using var live = await CreatePoolAsync("age", 1);
        SetLastUse(live.Template.Name, TimeSpan.FromDays(8));

        await using (var other = await CreatePoolAsync("age-other", 1))
        {
            Assert.True(File.Exists(live.Template.Name));
        }

        await live.DisposeAsync();
        await using var after = await CreatePoolAsync("age-other", 1);
        Assert.False(File.Exists(live.Template.Name));
        Assert.False(File.Exists(Sidecar(live.Template.Name)));
    }

    private static string Sidecar(string template) => Path.ChangeExtension(template, ".lineage");

    private static void SetLastUse(string template, TimeSpan ago) => File.SetLastWriteTimeUtc(template, DateTime.UtcNow - ago);

    /// <summary>Starts and disposes one pool per seed (identities chaos: a template per seed, one lineage); returns the templates.</summary>
    private async Task<List<string>> BuildTemplatesAsync(string schemaName, int seeds, int firstSeed = 1, int? keep = 2, ChaosModes chaos = ChaosModes.Identities)
    {
        var built = new List<string>();
        for (var seed = firstSeed; seed < firstSeed + seeds; seed++)
        {
            await using var pool = await CreatePoolAsync(schemaName, seed, keep, chaos);
            Assert.True(pool.Template.WasBuilt);
            built.Add(pool.Template.Name);
        }

        return built;
    }

    private Task<TestDatabasePool> CreatePoolAsync(string schemaName, int seed, int? keep = 2, ChaosModes chaos = ChaosModes.Identities, ListLoggerFactory? log = null)
    {
        var schema = SchemaSource.FromDelegate(schemaName, "1", async (connection, ct) =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)";
            await command.ExecuteNonQueryAsync(ct);
        });
        var engine = new SqliteEngine(new SqliteEngineOptions { Directory = Path.Combine(_cache, "sqlite"), KeepSupersededTemplates = keep });
        return TestDatabasePool.CreateAsync(engine, new TestDatabaseOptions { Schema = schema, PoolSize = 1, Chaos = chaos, Seed = seed, LoggerFactory = log }, Token);
    }
}
