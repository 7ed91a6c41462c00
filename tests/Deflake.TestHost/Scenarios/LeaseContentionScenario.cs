using System.Diagnostics;
using System.Globalization;

/// <summary>
/// Throughput under contention: acquires and releases a lease of one resource in a loop for --seconds.
/// Args: --backend local|postgres [--dir DIR] [--candidates 1] [--seconds 3] [--go FILE].
/// Prints <c>acquisitions N seconds S</c>. Run several at once with the same --go file.
/// </summary>
public sealed class LeaseContentionScenario : IScenario
{
    public string Name => "lease-contention";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new LeaseScenarioArgs(args);
        var candidates = Enumerable.Range(0, options.GetInt("candidates", 1)).Select(i => $"slot-{i}").ToArray();
        var duration = TimeSpan.FromSeconds(options.GetInt("seconds", 3));
        await using var leases = options.CreateLeases()!;
        await using (await leases.AcquireAsync("contention-warm-up", [$"w-{Environment.ProcessId}"], TimeSpan.FromSeconds(10), cancellationToken))
        {
        }

        await options.WaitForGoAsync(cancellationToken);
        var clock = Stopwatch.StartNew();
        long count = 0;
        while (clock.Elapsed < duration)
        {
            await using var lease = await leases.AcquireAsync("contention", candidates, TimeSpan.FromSeconds(30), cancellationToken);
            count++;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"acquisitions {count} seconds {clock.Elapsed.TotalSeconds:0.000}"));
        return 0;
    }
}
