using Deflake.Contract;
using Microsoft.Data.Sqlite;

namespace Deflake.Sqlite.Tests;

public sealed class SqliteProcessTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "deflake-sqlite-proc-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Four_processes_racing_on_one_new_template_build_it_exactly_once()
    {
        var go = Path.Combine(_directory, "go");
        Directory.CreateDirectory(_directory);
        var version = Guid.NewGuid().ToString("N");
        var hosts = Enumerable.Range(0, 4).Select(_ => TestHostProcess.Start("sqlite-template-race", [_directory, go, version])).ToList();
        try
        {
            await File.WriteAllTextAsync(go, "go", TestContext.Current.CancellationToken);
            foreach (var host in hosts)
            {
                Assert.Equal(0, await host.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            }

            var outcomes = hosts.Select(h => h.WaitForLine("", TimeSpan.FromSeconds(5))).ToList();
            Assert.Equal(1, outcomes.Count(o => o == "BUILT"));
            Assert.Equal(3, outcomes.Count(o => o == "REUSED"));
            Assert.All(hosts, h => Assert.Equal(string.Empty, h.Errors));
        }
        finally
        {
            hosts.ForEach(h => h.Dispose());
        }
    }

    [Fact]
    public async Task After_a_kill_9_the_next_pool_removes_the_dead_processes_clones_and_nothing_else()
    {
        using var host = TestHostProcess.Start("sqlite-hold-clones", [_directory]);
        var ready = host.WaitForLine("READY ", TimeSpan.FromSeconds(60)).Split(' ');
        var orphans = ready[1..];
        Assert.All(orphans, path => Assert.True(File.Exists(path)));
        host.KillHard();

        // Foreign files: never Deflake's to delete.
        var foreignInRoot = Path.Combine(_directory, "my-notes.db");
        var foreignInClones = Path.Combine(_directory, "clones", "someone-else", "data.db");
        Directory.CreateDirectory(Path.GetDirectoryName(foreignInClones)!);
        await File.WriteAllTextAsync(foreignInRoot, "mine", TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(foreignInClones, "mine", TestContext.Current.CancellationToken);

        // A live pool in this process: its clones must survive another pool's collection.
        await using var live = await CreatePoolAsync();
        await using var liveDatabase = await live.RentAsync(TestContext.Current.CancellationToken);
        var livePath = new SqliteConnectionStringBuilder(liveDatabase.ConnectionString).DataSource;

        await using var next = await CreatePoolAsync();

        Assert.True(live.OrphansRemoved + next.OrphansRemoved >= 2, $"removed {live.OrphansRemoved} + {next.OrphansRemoved}");
        Assert.All(orphans, path => Assert.False(File.Exists(path), $"{path} should have been collected"));
        Assert.True(File.Exists(livePath));
        Assert.True(File.Exists(foreignInRoot));
        Assert.True(File.Exists(foreignInClones));
    }

    [Fact]
    public async Task An_owner_folder_without_its_lock_is_left_alone_while_new_and_removed_an_hour_after_its_process_died()
    {
        var clones = Path.Combine(_directory, "clones");
        string Unfinished(string name, bool old, string? foreignFile = null)
        {
            var folder = Path.Combine(clones, name);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "owner.lock.0123456789ab.new"), "");
            if (foreignFile is not null)
            {
                File.WriteAllText(Path.Combine(folder, foreignFile), "mine");
            }

            if (old)
            {
                Directory.SetLastWriteTimeUtc(folder, DateTime.UtcNow.AddHours(-2));
            }

            return folder;
        }

        var settingUp = Unfinished("setting-up", old: false);
        var abandoned = Unfinished("abandoned", old: true);
        var withForeignFile = Unfinished("with-foreign-file", old: true, foreignFile: "notes.txt");

        await using var pool = await CreatePoolAsync();

        Assert.True(File.Exists(Path.Combine(settingUp, "owner.lock.0123456789ab.new")));
        Assert.False(Directory.Exists(abandoned));
        Assert.True(File.Exists(Path.Combine(withForeignFile, "notes.txt")));
        Assert.False(File.Exists(Path.Combine(withForeignFile, "owner.lock.0123456789ab.new")));
    }

    private Task<TestDatabasePool> CreatePoolAsync() =>
        TestDatabasePool.CreateAsync(new SqliteEngine(new SqliteEngineOptions { Directory = _directory }), new TestDatabaseOptions
        {
            Schema = SchemaSource.FromDelegate("crash", "1", async (connection, ct) =>
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "CREATE TABLE t (id INTEGER PRIMARY KEY)";
                await command.ExecuteNonQueryAsync(ct);
            }),
            PoolSize = 1,
            Chaos = ChaosModes.None,
        }, TestContext.Current.CancellationToken);
}
