/// <summary>Prints its arguments: proves the host starts.</summary>
public sealed class EchoScenario : IScenario
{
    public string Name => "echo";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        Console.WriteLine(string.Join(' ', args));
        return Task.FromResult(0);
    }
}
