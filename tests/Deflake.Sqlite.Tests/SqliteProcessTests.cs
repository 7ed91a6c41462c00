using System.Globalization;
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

    [Theory]
    [InlineData("auto")]
    [InlineData("disk")]
    public async Task After_a_kill_9_the_next_pool_removes_the_dead_processes_clones_and_nothing_else(string cloneDirectory)
    {
        using var host = TestHostProcess.Start("sqlite-hold-clones", [_directory], new Dictionary<string, string> { ["DEFLAKE_SQLITE_CLONE_DIR"] = cloneDirectory });
        var ready = host.WaitForLine("READY ", TimeSpan.FromSeconds(60)).Split(' ');
        var orphans = ready[1..];
        Assert.All(orphans, path => Assert.True(File.Exists(path)));
        var inMemory = cloneDirectory == "auto" && OperatingSystem.IsLinux() && Directory.Exists("/dev/shm");
        Assert.All(orphans, path => Assert.StartsWith(inMemory ? "/dev/shm/deflake-" : Path.Combine(_directory, "clones"), path, StringComparison.Ordinal));
        host.KillHard();

        // Foreign files: never Deflake's to delete.
        var foreignInRoot = Path.Combine(_directory, "my-notes.db");
        var foreignInClones = Path.Combine(_directory, "clones", "someone-else", "data.db");
        Directory.CreateDirectory(Path.GetDirectoryName(foreignInClones)!);
        await File.WriteAllTextAsync(foreignInRoot, "mine", TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(foreignInClones, "mine", TestContext.Current.CancellationToken);

        // A live pool in this process: its clones must survive another pool's collection.
        await using var live = await CreatePoolAsync(cloneDirectory);
        await using var liveDatabase = await live.RentAsync(TestContext.Current.CancellationToken);
        var livePath = new SqliteConnectionStringBuilder(liveDatabase.ConnectionString).DataSource;

        await using var next = await CreatePoolAsync(cloneDirectory);

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

    [Fact]
    public async Task The_memory_clones_of_a_dead_process_whose_directory_was_deleted_are_collected_by_any_other_directorys_pool()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() && Directory.Exists("/dev/shm"), "needs Linux's /dev/shm");
        var gone = Path.Combine(_directory, "deleted-cache");
        using var host = TestHostProcess.Start("sqlite-hold-clones", [gone], new Dictionary<string, string> { ["DEFLAKE_SQLITE_CLONE_DIR"] = "auto" });
        var orphans = host.WaitForLine("READY ", TimeSpan.FromSeconds(60)).Split(' ')[1..];
        var memoryFolder = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(orphans[0])))!;
        Assert.Equal(SqliteCloneFolders.FolderName(gone), Path.GetFileName(memoryFolder));
        host.KillHard();
        Directory.Delete(gone, recursive: true);

        // Not Deflake's: stays, and keeps its folder.
        var foreign = Path.Combine(memoryFolder, "clones", "someone-else", "data.db");
        Directory.CreateDirectory(Path.GetDirectoryName(foreign)!);
        await File.WriteAllTextAsync(foreign, "mine", TestContext.Current.CancellationToken);
        try
        {
            await using var other = await CreatePoolAsync("auto", Path.Combine(_directory, "other-cache"));

            Assert.True(other.OrphansRemoved >= 2, $"removed {other.OrphansRemoved}");
            Assert.All(orphans, path => Assert.False(File.Exists(path), $"{path} should have been collected"));
            Assert.False(Directory.Exists(Path.GetDirectoryName(orphans[0])), "the dead owner's folder should be gone");
            Assert.True(File.Exists(foreign));
        }
        finally
        {
            Directory.Delete(memoryFolder, recursive: true);
        }
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("disk")]
    public async Task Pools_starting_while_pools_of_other_processes_stop_never_fail_to_start(string cloneDirectory)
    {
        // Issue 17: a start collecting orphans met a peer removing its own folder at that moment and crashed.
        // 4 processes × 2 loops × 20 cycles: 160 starts, each collecting while the others stop.
        const int Processes = 4, Parallel = 2, Cycles = 20;
        var go = Path.Combine(_directory, "go");
        Directory.CreateDirectory(_directory);
        var hosts = Enumerable.Range(0, Processes).Select(_ => TestHostProcess.Start("sqlite-start-stop",
            [_directory, go, Cycles.ToString(CultureInfo.InvariantCulture), Parallel.ToString(CultureInfo.InvariantCulture)],
            new Dictionary<string, string> { ["DEFLAKE_SQLITE_CLONE_DIR"] = cloneDirectory })).ToList();
        try
        {
            await File.WriteAllTextAsync(go, "go", TestContext.Current.CancellationToken);
            var runs = new List<(int Starts, int Failed, long From, long To)>();
            foreach (var host in hosts)
            {
                Assert.Equal(0, await host.WaitForExitAsync(TimeSpan.FromSeconds(60)));
                var fields = host.WaitForLine("DONE ", TimeSpan.FromSeconds(5)).Split(' ')[1..]
                    .Select(f => long.Parse(f[(f.IndexOf('=', StringComparison.Ordinal) + 1)..], CultureInfo.InvariantCulture)).ToArray();
                runs.Add(((int)fields[0], (int)fields[1], fields[2], fields[3]));
            }

            Assert.Equal(string.Empty, string.Concat(hosts.Select(h => h.Errors)));
            Assert.All(runs, r => Assert.Equal(0, r.Failed));
            Assert.Equal(Processes * Parallel * Cycles, runs.Sum(r => r.Starts));
            // They ran at the same time: every process started before any had finished.
            Assert.True(runs.Max(r => r.From) < runs.Min(r => r.To), "the processes' start/stop loops did not overlap");
            var clones = cloneDirectory == "disk" || !Directory.Exists("/dev/shm")
                ? Path.Combine(_directory, "clones")
                : Path.Combine("/dev/shm", "deflake-" + Environment.UserName, SqliteCloneFolders.FolderName(_directory), "clones");
            Assert.True(!Directory.Exists(clones) || Directory.GetFiles(clones, "deflake_*", SearchOption.AllDirectories).Length == 0, $"clones left in {clones}");
        }
        finally
        {
            hosts.ForEach(h => h.Dispose());
        }
    }

    [Fact]
    public async Task An_owner_folder_that_vanished_after_it_was_listed_is_skipped()
    {
        // What a start sees when a peer ends at that moment: the folder was listed, and is gone when examined.
        var vanished = Path.Combine(_directory, "clones", "vanished-owner");

        Assert.Equal(0, await RemoveOwnerFoldersAsync(vanished));
        SqliteEngine.RemoveUnfinishedOwnerFolder(vanished);
        Assert.Equal(0, SqliteEngine.RemoveClonesOfClaimedOwner(vanished));
        Assert.False(Directory.Exists(vanished), "nothing is made for a folder that is gone");
    }

    [Fact]
    public async Task A_dead_owners_folder_is_emptied_and_removed_while_a_live_owners_is_not()
    {
        var clones = Path.Combine(_directory, "clones");
        var dead = Directory.CreateDirectory(Path.Combine(clones, "dead-owner")).FullName;
        File.WriteAllText(Path.Combine(dead, "owner.lock"), "");
        File.WriteAllText(Path.Combine(dead, "deflake_x_1.db"), "");
        var live = Directory.CreateDirectory(Path.Combine(clones, "live-owner")).FullName;
        using var held = Deflake.Coordination.CrossProcessLock.TryCreateHeld(Path.Combine(live, "owner.lock"))!;
        File.WriteAllText(Path.Combine(live, "deflake_x_2.db"), "");

        Assert.Equal(1, await RemoveOwnerFoldersAsync(dead));
        Assert.Equal(0, await RemoveOwnerFoldersAsync(live));

        Assert.False(Directory.Exists(dead));
        Assert.True(File.Exists(Path.Combine(live, "deflake_x_2.db")));
    }

    /// <summary>Collects owner folders as a pool of another process would.</summary>
    private static Task<int> RemoveOwnerFoldersAsync(string owner) => SqliteEngine.RemoveOwnerFoldersAsync([owner],
        new Deflake.Coordination.OrphanRules(DateTimeOffset.UtcNow, TimeSpan.FromDays(1), null, "another-owner"),
        Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TestContext.Current.CancellationToken);

    private Task<TestDatabasePool> CreatePoolAsync(string cloneDirectory = "auto", string? directory = null) =>
        TestDatabasePool.CreateAsync(new SqliteEngine(new SqliteEngineOptions { Directory = directory ?? _directory, CloneDirectory = cloneDirectory }), new TestDatabaseOptions
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
