namespace PlantedSuite;

/// <summary>
/// One shared sandbox account for the whole process. The planted collision: each test resets it, acts and checks;
/// run at the same time they meet (a rendezvous makes the race certain) and both fail; one after the other both pass.
/// </summary>
internal static class Sandbox
{
    private static long _balance;
    private static readonly bool OneAtATime = Environment.GetCommandLineArgs().Zip(Environment.GetCommandLineArgs().Skip(1))
        .Any(p => p.First.Equals("-parallel", StringComparison.OrdinalIgnoreCase) && p.Second.Equals("none", StringComparison.OrdinalIgnoreCase));
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, TaskCompletionSource> Waiting = new(StringComparer.Ordinal);

    public static long Balance => Interlocked.Read(ref _balance);

    public static void Reset(long value) => Interlocked.Exchange(ref _balance, value);

    public static void Add(long value) => Interlocked.Add(ref _balance, value);

    /// <summary>Waits for the other test at <paramref name="point"/> (never when tests run one at a time); true when it came.</summary>
    public static async Task<bool> MeetAsync(string point, TimeSpan wait, CancellationToken ct)
    {
        TaskCompletionSource mine;
        lock (Gate)
        {
            if (OneAtATime)
            {
                return false;
            }

            if (Waiting.Remove(point, out var other))
            {
                other.TrySetResult();
                return true;
            }

            mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Waiting[point] = mine;
        }

        try
        {
            await mine.Task.WaitAsync(wait, ct);
            return true;
        }
        catch (TimeoutException)
        {
            lock (Gate)
            {
                if (Waiting.TryGetValue(point, out var still) && still == mine)
                {
                    Waiting.Remove(point);
                }
            }

            return mine.Task.IsCompleted;
        }
    }
}

public sealed class SandboxChargeTests
{
    [Fact]
    public async Task Charging_lowers_the_balance()
    {
        var ct = TestContext.Current.CancellationToken;
        Sandbox.Reset(100);
        var together = await Sandbox.MeetAsync("reset", TimeSpan.FromSeconds(3), ct);
        Sandbox.Add(-30);
        if (together)
        {
            await Sandbox.MeetAsync("acted", TimeSpan.FromSeconds(10), ct);
        }

        Assert.Equal(70, Sandbox.Balance);
    }
}

public sealed class SandboxDepositTests
{
    [Fact]
    public async Task Depositing_raises_the_balance()
    {
        var ct = TestContext.Current.CancellationToken;
        Sandbox.Reset(100);
        var together = await Sandbox.MeetAsync("reset", TimeSpan.FromSeconds(3), ct);
        Sandbox.Add(20);
        if (together)
        {
            await Sandbox.MeetAsync("acted", TimeSpan.FromSeconds(10), ct);
        }

        Assert.Equal(120, Sandbox.Balance);
    }
}
