using Deflake;

/// <summary>Parses <c>--name value</c> pairs for the lease scenarios and builds their <see cref="Leases"/>.</summary>
internal sealed class LeaseScenarioArgs
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public LeaseScenarioArgs(string[] args)
    {
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"expected --name value, got '{args[i]}'");
            }

            _values[args[i][2..]] = args[i + 1];
        }
    }

    public string Get(string name, string? fallback = null) =>
        _values.TryGetValue(name, out var value) ? value : fallback ?? throw new ArgumentException($"missing --{name}");

    public int GetInt(string name, int fallback) => _values.TryGetValue(name, out var value) ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : fallback;

    /// <summary><c>--backend local</c> (optionally <c>--dir</c>) or <c>--backend postgres</c> (DEFLAKE_POSTGRES); <c>none</c>: null.</summary>
    public Leases? CreateLeases()
    {
        var backend = Get("backend", "local");
        var options = new LeaseOptions { Directory = _values.GetValueOrDefault("dir"), TestName = () => CurrentTest.Value };
        return backend switch
        {
            "local" => Leases.Local(options),
            "postgres" => Leases.Postgres(Environment.GetEnvironmentVariable(DeflakeEnvironment.Postgres)
                ?? throw new ArgumentException("DEFLAKE_POSTGRES is not set"), options),
            "none" => null,
            _ => throw new ArgumentException($"unknown backend '{backend}'"),
        };
    }

    /// <summary>The "test" running now, for holder notes.</summary>
    public static AsyncLocal<string?> CurrentTest { get; } = new();

    /// <summary>Prints "ready" and waits until the parent creates the go file, so all children start together.</summary>
    public async Task WaitForGoAsync(CancellationToken cancellationToken)
    {
        if (!_values.TryGetValue("go", out var go))
        {
            return;
        }

        Console.WriteLine("ready");
        while (!File.Exists(go))
        {
            await Task.Delay(1, cancellationToken);
        }
    }
}
