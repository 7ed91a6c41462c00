using System.Diagnostics;
using Deflake.Cli.Commands;

namespace Deflake.Cli.Tests.Commands;

/// <summary>
/// The work folders a deflake killed outright leaves behind are removed by the next one; nothing else is: not a live
/// process's, not a folder with files deflake does not write, not a folder named otherwise.
/// </summary>
public sealed class WorkDirectoryTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("deflake-workdir-tests-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public async Task Only_the_work_folders_of_gone_processes_holding_only_runner_files_are_removed()
    {
        var gone = await GonePidAsync();
        var abandoned = Folder($"deflake-hunt-{gone}-42", "order-0001.txt", "chaos-0002.txt", "run-0001.xml", "run-0012.xml");
        var abandonedEmpty = Folder($"deflake-hunt-{gone}--7");
        var abandonedSecond = Folder($"deflake-hunt-{gone}-42-2", "order-0003.txt"); // a second hunt with seed 42 in that process
        var live = Folder($"deflake-hunt-{Environment.ProcessId}-42", "run-0001.xml"); // this process
        var liveOther = Folder("deflake-hunt-1-42", "run-0001.xml"); // pid 1 always runs
        var foreignFile = Folder($"deflake-hunt-{gone}-43", "run-0001.xml", "notes.md");
        var subfolder = Folder($"deflake-hunt-{gone}-44", "run-0001.xml");
        Directory.CreateDirectory(Path.Combine(subfolder, "keep"));
        var otherName = Folder($"deflake-hunt-{gone}", "run-0001.xml");
        var notAPid = Folder("deflake-hunt-abc-42", "run-0001.xml");

        var removed = CommonOptions.RemoveAbandonedWorkDirectories(_temp);

        Assert.Equal(3, removed);
        Assert.False(Directory.Exists(abandoned));
        Assert.False(Directory.Exists(abandonedEmpty));
        Assert.False(Directory.Exists(abandonedSecond));
        Assert.All([live, liveOther, foreignFile, subfolder, otherName, notAPid], kept => Assert.True(Directory.Exists(kept), kept));
        Assert.True(File.Exists(Path.Combine(foreignFile, "notes.md")));
        Assert.Equal(0, CommonOptions.RemoveAbandonedWorkDirectories(_temp));
    }

    [Fact]
    public void Hunts_of_one_process_with_the_same_seed_never_share_a_work_folder()
    {
        // Three hunts side by side in one process (the end-to-end tests hunt three suites with seed 7 at once): before,
        // all three wrote order-0001.txt and read run-0001.* in one folder, and the first to end deleted it.
        var seed = Random.Shared.Next(1_000_000, int.MaxValue);
        var first = CommonOptions.WorkDirectory(seed);
        var second = CommonOptions.WorkDirectory(seed);
        var third = CommonOptions.WorkDirectory(seed);
        try
        {
            Assert.Equal(3, new[] { first, second, third }.Distinct(StringComparer.Ordinal).Count());
            Assert.Equal($"deflake-hunt-{Environment.ProcessId}-{seed}", Path.GetFileName(first));
            Assert.Equal($"deflake-hunt-{Environment.ProcessId}-{seed}-2", Path.GetFileName(second));

            // A released name is given again; one still held is not.
            CommonOptions.ReleaseWorkDirectory(second);
            Assert.Equal(second, CommonOptions.WorkDirectory(seed));
        }
        finally
        {
            CommonOptions.ReleaseWorkDirectory(first);
            CommonOptions.ReleaseWorkDirectory(second);
            CommonOptions.ReleaseWorkDirectory(third);
        }
    }

    [Fact]
    public void A_missing_temp_folder_removes_nothing()
    {
        Assert.Equal(0, CommonOptions.RemoveAbandonedWorkDirectories(Path.Combine(_temp, "missing")));
    }

    private string Folder(string name, params string[] files)
    {
        var path = Path.Combine(_temp, name);
        Directory.CreateDirectory(path);
        foreach (var file in files)
        {
            File.WriteAllText(Path.Combine(path, file), "x");
        }

        return path;
    }

    /// <summary>The id of a process that has just ended (and is reaped, so no live process has it, barring reuse).</summary>
    private static async Task<int> GonePidAsync()
    {
        using var process = Process.Start(new ProcessStartInfo("dotnet", "--version") { RedirectStandardOutput = true, UseShellExecute = false })!;
        await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return process.Id;
    }
}
