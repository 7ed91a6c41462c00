using Deflake;

namespace Shop.Tests;

/// <summary>
/// Seed 004's lesson, both ways. Prefer fresh data per test (<see cref="UniqueValue"/>): no coordination at all.
/// Lease only what is truly limited, such as the few pre-provisioned accounts of an external sandbox.
/// </summary>
public sealed class SandboxAccountTests
{
    // Three accounts some external payment sandbox gave us; tests in every process share them.
    private static readonly string[] SandboxAccounts = ["sandbox-acct-1", "sandbox-acct-2", "sandbox-acct-3"];
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> LoggedIn = new();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task A_leased_sandbox_account_is_never_used_by_two_tests_at_once(int test)
    {
        await using var leases = Leases.Local();
        await using var account = await leases.AcquireAsync("payment-sandbox", SandboxAccounts, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        // While we hold the lease, nobody else may be "logged in" as this account.
        Assert.True(LoggedIn.TryAdd(account.Value, test), $"{account.Value} is already in use by test {LoggedIn.GetValueOrDefault(account.Value)}");
        try
        {
            await Task.Delay(20 + test, TestContext.Current.CancellationToken);
        }
        finally
        {
            LoggedIn.TryRemove(account.Value, out _);
        }

        Assert.Contains(account.Value, SandboxAccounts);
    }

    [Fact]
    public void Fresh_per_test_data_needs_no_lease_and_never_collides()
    {
        var emails = Enumerable.Range(0, 1000).Select(_ => UniqueValue.Email("shopper")).ToList();

        Assert.Equal(emails.Count, emails.Distinct().Count());
        Assert.All(emails, e => Assert.True(e.IndexOf('@', StringComparison.Ordinal) <= 64));
    }
}
