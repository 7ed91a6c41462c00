using System.Globalization;

namespace Deflake.Tests;

public sealed class DeflakeWorkerTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private Dictionary<string, string?> Environment(string? worker = null) => new()
    {
        [DeflakeEnvironment.RuntimeDirectory] = _directory.Path,
        [DeflakeEnvironment.Seed] = "4242",
        [DeflakeWorker.EnvironmentVariable] = worker,
    };

    [Fact]
    public void This_process_has_a_worker_id_made_of_w_and_its_index()
    {
        Assert.InRange(DeflakeWorker.Index, 0, DeflakeWorker.MaxWorkers - 1);
        Assert.Equal("w" + DeflakeWorker.Index.ToString(CultureInfo.InvariantCulture), DeflakeWorker.Id);
        Assert.Equal(DeflakeWorker.Index, DeflakeWorker.Index);
    }

    [Fact]
    public async Task Concurrent_processes_get_the_lowest_free_ids_and_a_finished_or_killed_one_frees_its_id()
    {
        var children = Enumerable.Range(0, 3).Select(_ => HostChild.Start("worker-id", [], Environment())).ToList();
        try
        {
            var ids = new List<string>();
            foreach (var child in children)
            {
                ids.Add((await child.ReadLineStartingAsync("worker ", TimeSpan.FromSeconds(60)))["worker ".Length..]);
            }

            Assert.Equal(["w0", "w1", "w2"], ids.Order(StringComparer.Ordinal));

            // w1 ends normally, the holder of w0 is killed: the next two processes reuse both.
            var w1 = children[ids.IndexOf("w1")];
            await w1.WriteLineAsync("exit");
            await w1.WaitForSuccessAsync(TimeSpan.FromSeconds(30));
            await children[ids.IndexOf("w0")].KillAsync();
            await using var next = HostChild.Start("worker-id", [], Environment());
            Assert.Equal("worker w0", await next.ReadLineStartingAsync("worker ", TimeSpan.FromSeconds(60)));
            await using var after = HostChild.Start("worker-id", [], Environment());
            Assert.Equal("worker w1", await after.ReadLineStartingAsync("worker ", TimeSpan.FromSeconds(60)));
        }
        finally
        {
            foreach (var child in children)
            {
                await child.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task DEFLAKE_WORKER_sets_the_id_without_claiming_a_slot()
    {
        await using var child = HostChild.Start("worker-id", [], Environment(worker: "w7"));
        Assert.Equal("worker w7", await child.ReadLineStartingAsync("worker ", TimeSpan.FromSeconds(60)));
        Assert.False(Directory.Exists(Path.Combine(_directory.Path, "workers")));
    }

    [Fact]
    public async Task An_invalid_DEFLAKE_WORKER_fails_with_a_one_line_error_naming_the_variable()
    {
        await using var child = HostChild.Start("worker-id", [], Environment(worker: "seven"));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => child.WaitForSuccessAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("DeflakeConfigurationException: DEFLAKE_WORKER: 'seven' is not a worker index", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("3", 3)]
    [InlineData("w12", 12)]
    [InlineData(" W2 ", 2)]
    public void Worker_indexes_parse_as_a_number_or_w_and_a_number(string text, int expected) =>
        Assert.Equal(expected, DeflakeWorker.ParseIndex(text));

    [Theory]
    [InlineData("")]
    [InlineData("w")]
    [InlineData("-1")]
    [InlineData("w-1")]
    [InlineData("1.5")]
    [InlineData("4096")]
    [InlineData("gw0")]
    public void Invalid_worker_indexes_are_rejected(string text)
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => DeflakeWorker.ParseIndex(text));
        Assert.Equal(DeflakeWorker.EnvironmentVariable, error.Setting);
    }
}
