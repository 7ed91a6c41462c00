namespace Deflake.Tests.Leases;

/// <summary>Bad names, candidates, timeouts and options fail at once with one clear line.</summary>
public sealed class LeaseValidationTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private Deflake.Leases _leases = null!;

    public ValueTask InitializeAsync()
    {
        _leases = Deflake.Leases.Local(new LeaseOptions { Directory = _directory.Path });
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _leases.DisposeAsync();
        _directory.Dispose();
    }

    public static TheoryData<string?, string> BadResources => new()
    {
        { null, "resource: is null" },
        { "", "is empty or whitespace" },
        { "   ", "is empty or whitespace" },
        { " accounts", "starts or ends with whitespace" },
        { "acc\nounts", "contains a control character" },
        { "acc\0ounts", "contains a control character" },
        { new string('a', 201), "is 201 characters long; the limit is 200" },
    };

    [Theory]
    [MemberData(nameof(BadResources))]
    public async Task A_bad_resource_name_is_rejected(string? resource, string expected)
    {
        var error = await Assert.ThrowsAnyAsync<ArgumentException>(async () =>
            await _leases.AcquireAsync(resource!, ["alice"], TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken));
        Assert.Equal("resource", error.ParamName);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    public static TheoryData<string?[]?, string> BadCandidates => new()
    {
        { null, "candidates: is null" },
        { [], "candidates: the list for 'accounts' is empty" },
        { ["alice", null], "candidates: is null" },
        { ["alice", ""], "is empty or whitespace" },
        { ["alice", "\t"], "is empty or whitespace" },
        { ["alice", "bob\r"], "contains a control character" },
        { ["alice", "bob", "alice"], "candidates: 'alice' is listed twice for 'accounts'" },
        { [new string('b', 500)], "is 500 characters long" },
    };

    [Theory]
    [MemberData(nameof(BadCandidates))]
    public async Task Bad_candidates_are_rejected(string?[]? candidates, string expected)
    {
        var error = await Assert.ThrowsAnyAsync<ArgumentException>(async () =>
            await _leases.AcquireAsync("accounts", candidates!, TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken));
        Assert.Equal("candidates", error.ParamName);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(-5000)]
    public async Task A_timeout_that_is_not_positive_is_rejected(int milliseconds)
    {
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
            await _leases.AcquireAsync("accounts", ["alice"], TimeSpan.FromMilliseconds(milliseconds), TestContext.Current.CancellationToken));
        Assert.Equal("timeout", error.ParamName);
        Assert.Contains("timeout: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_infinite_timeout_is_rejected_because_waits_are_bounded()
    {
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
            await _leases.AcquireAsync("accounts", ["alice"], Timeout.InfiniteTimeSpan, TestContext.Current.CancellationToken));
        Assert.Equal("timeout", error.ParamName);
    }

    [Fact]
    public void Options_out_of_range_are_rejected_when_leases_are_created()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() =>
            Deflake.Leases.Local(new LeaseOptions { MaxPollInterval = TimeSpan.Zero }));
        Assert.Equal("MaxPollInterval", error.Setting);
        Assert.Throws<DeflakeConfigurationException>(() => Deflake.Leases.Local(new LeaseOptions { Directory = " " }));
    }
}
