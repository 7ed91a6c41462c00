namespace Deflake.Testing;

/// <summary>
/// Holds a test process that <c>deflake</c> started ahead of its run until the run's settings arrive
/// (<see cref="DeflakeEnvironment.StartGate"/>): while the previous run's tests run, the next process starts the
/// runtime and discovers its tests, then waits here, before any fixture, order or test of the assembly is set up.
/// Without <c>DEFLAKE_START_GATE</c> it does nothing.
/// </summary>
public static class StartGate
{
    private const string Go = "go";

    private static readonly Lazy<bool> Passed = new(WaitForSettings, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Waits for the run's settings, once per process; returns at once when the process was not started ahead.</summary>
    /// <exception cref="DeflakeConfigurationException"><c>DEFLAKE_START_GATE</c> has a value other than <c>stdin</c>, or a settings line is malformed.</exception>
    public static void Pass() => _ = Passed.Value;

    private static bool WaitForSettings()
    {
        var mode = Environment.GetEnvironmentVariable(DeflakeEnvironment.StartGate);
        if (string.IsNullOrWhiteSpace(mode))
        {
            return false;
        }

        if (!string.Equals(mode.Trim(), "stdin", StringComparison.Ordinal))
        {
            throw new DeflakeConfigurationException(DeflakeEnvironment.StartGate,
                $"is '{mode}'; the only value is 'stdin', which deflake sets on the test processes it starts ahead. Unset it to run tests directly.");
        }

        Console.Error.WriteLine(DeflakeEnvironment.StartGateWaitingLine);
        if (!Read(Console.In, Environment.SetEnvironmentVariable))
        {
            // The deflake process that started this one is gone: nothing ran, nothing will.
            Console.Error.WriteLine("Deflake: the deflake process that started this test process is gone (its standard input ended before the run's settings); exiting without running any test.");
            Environment.Exit(3);
        }

        Console.Error.WriteLine(DeflakeEnvironment.StartGatePassedLine);
        return true;
    }

    /// <summary>
    /// Reads <c>NAME=VALUE</c> lines until <c>go</c>, handing each to <paramref name="apply"/> (an empty value unsets).
    /// Only <c>DEFLAKE_*</c> names are accepted, and never <c>DEFLAKE_START_GATE</c> itself.
    /// </summary>
    /// <returns>True when <c>go</c> came; false when the input ended first.</returns>
    /// <exception cref="DeflakeConfigurationException">A line is not a <c>DEFLAKE_*</c> setting.</exception>
    internal static bool Read(TextReader input, Action<string, string?> apply)
    {
        while (input.ReadLine() is { } line)
        {
            if (line == Go)
            {
                return true;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? line[..equals] : string.Empty;
            if (!name.StartsWith("DEFLAKE_", StringComparison.Ordinal) || name == DeflakeEnvironment.StartGate || name.Any(char.IsWhiteSpace))
            {
                throw new DeflakeConfigurationException(DeflakeEnvironment.StartGate,
                    $"received '{(line.Length > 80 ? line[..80] + "…" : line)}' on standard input; expected DEFLAKE_NAME=value lines and then 'go' (what deflake sends).");
            }

            var value = line[(equals + 1)..];
            apply(name, value.Length == 0 ? null : value);
        }

        return false;
    }
}
