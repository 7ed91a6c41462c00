/// <summary>
/// Takes a lease and holds it until a line arrives on stdin (or the process is killed).
/// Args: --backend local|postgres [--dir DIR] --resource NAME --candidates a,b,c [--test NAME].
/// Prints <c>held VALUE PID</c>, then <c>released</c>.
/// </summary>
public sealed class LeaseHoldScenario : IScenario
{
    public string Name => "lease-hold";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new LeaseScenarioArgs(args);
        LeaseScenarioArgs.CurrentTest.Value = options.Get("test", "LeaseHoldScenario");
        await using var leases = options.CreateLeases()!;
        var lease = await leases.AcquireAsync(options.Get("resource"), options.Get("candidates").Split(','), TimeSpan.FromSeconds(30), cancellationToken);
        Console.WriteLine($"held {lease.Value} {Environment.ProcessId}");
        await Console.In.ReadLineAsync(cancellationToken);
        await lease.DisposeAsync();
        Console.WriteLine("released");
        return 0;
    }
}
