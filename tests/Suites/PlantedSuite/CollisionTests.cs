namespace PlantedSuite;

/// <summary>
/// One shared sandbox account for the whole process. The planted collision: each test resets it, acts and checks;
/// run at the same time they meet (a rendezvous makes the race certain) and both fail; one after the other both pass.
/// </summary>
internal static class Sandbox
{
    private static long _balance;

    public static long Balance => Interlocked.Read(ref _balance);

    public static void Reset(long value) => Interlocked.Exchange(ref _balance, value);

    public static void Add(long value) => Interlocked.Add(ref _balance, value);

    /// <summary>Waits for the other test at <paramref name="point"/> (never when tests run one at a time); true when it came.</summary>
    /// <remarks>The sample's rendezvous (samples/Shop.FlakyTests/RaceWindow.cs, compiled in here).</remarks>
    public static Task<bool> MeetAsync(string point, TimeSpan wait, CancellationToken ct) => Shop.FlakyTests.RaceWindow.MeetAsync(point, wait, ct);
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
