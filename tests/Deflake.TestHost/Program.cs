

// Each scenario is a class implementing IScenario, in its own file under Scenarios/.
// Usage: dotnet Deflake.TestHost.dll SCENARIO [ARGS...]; exit code 0 = success.
var scenarios = typeof(IScenario).Assembly.GetTypes()
    .Where(t => typeof(IScenario).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IScenario)Activator.CreateInstance(t)!)
    .ToDictionary(s => s.Name, StringComparer.Ordinal);

if (args.Length == 0 || !scenarios.TryGetValue(args[0], out var scenario))
{
    Console.Error.WriteLine($"usage: Deflake.TestHost SCENARIO [ARGS]; scenarios: {string.Join(", ", scenarios.Keys.Order())}");
    return 2;
}

try
{
    return await scenario.RunAsync(args[1..], CancellationToken.None);
}
catch (Exception ex)
{
    Console.Error.WriteLine($"{ex.GetType().Name}: {ex.Message}");
    return 1;
}

/// <summary>One thing a child process can be asked to do.</summary>
public interface IScenario
{
    /// <summary>The name tests pass as the first argument.</summary>
    string Name { get; }

    /// <summary>Runs the scenario; returns the exit code.</summary>
    Task<int> RunAsync(string[] args, CancellationToken cancellationToken);
}

