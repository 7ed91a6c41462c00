namespace Shop.FlakyTests;

/// <summary>
/// The payment provider's sandbox gives the whole team one test account (seed 004: tests colliding on one shared
/// account). Each test resets it, acts, and checks the balance, which is right only if no other test touches the
/// account in between.
/// </summary>
internal static class PaymentSandbox
{
    private static long _balanceCents;

    public static void Reset(long cents) => Interlocked.Exchange(ref _balanceCents, cents);

    public static void Charge(long cents) => Interlocked.Add(ref _balanceCents, -cents);

    public static void Refund(long cents) => Interlocked.Add(ref _balanceCents, cents);

    public static long BalanceCents => Interlocked.Read(ref _balanceCents);
}

// PLANTED (seed 004), with RefundTests below: both pass alone and one after the other; run in parallel they act on
// the one sandbox account at the same time and both fail. The fix: an account per test, or lease the shared one.
public sealed class ChargeTests
{
    [Fact]
    public async Task Charging_the_sandbox_account_lowers_its_balance()
    {
        var ct = TestContext.Current.CancellationToken;
        PaymentSandbox.Reset(10_000);
        var concurrent = await RaceWindow.MeetAsync("sandbox-reset", RaceWindow.Window, ct);

        PaymentSandbox.Charge(3_000);
        if (concurrent)
        {
            await RaceWindow.MeetAsync("sandbox-acted", TimeSpan.FromSeconds(10), ct);
        }

        Assert.Equal(7_000, PaymentSandbox.BalanceCents);
    }
}

public sealed class RefundTests
{
    [Fact]
    public async Task Refunding_to_the_sandbox_account_raises_its_balance()
    {
        var ct = TestContext.Current.CancellationToken;
        PaymentSandbox.Reset(10_000);
        var concurrent = await RaceWindow.MeetAsync("sandbox-reset", RaceWindow.Window, ct);

        PaymentSandbox.Refund(2_000);
        if (concurrent)
        {
            await RaceWindow.MeetAsync("sandbox-acted", TimeSpan.FromSeconds(10), ct);
        }

        Assert.Equal(12_000, PaymentSandbox.BalanceCents);
    }
}
