using Deflake;

/// <summary>
/// Prints <c>worker ID</c>, then <c>--count</c> unique names one a line (<c>value NAME</c>), then <c>done</c>, and keeps its
/// worker slot until a line arrives on stdin.
/// </summary>
public sealed class WorkerIdentityScenario : IScenario
{
    public string Name => "worker-id";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new LeaseScenarioArgs(args);
        Console.WriteLine($"worker {DeflakeWorker.Id}");
        for (var i = 0; i < options.GetInt("count", 0); i++)
        {
            Console.WriteLine($"value {UniqueValue.Name("user")}");
        }

        Console.WriteLine("done");
        await Console.In.ReadLineAsync(cancellationToken);
        return 0;
    }
}
