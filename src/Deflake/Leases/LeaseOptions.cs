namespace Deflake;

/// <summary>How <see cref="Leases"/> waits and what it records about holders. Every default is safe.</summary>
public sealed class LeaseOptions
{
    /// <summary>The clock for timeouts, waits and holder notes. Default: <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Names the test that asks, for holder notes in timeout errors (for example
    /// <c>() =&gt; TestContext.Current.Test?.TestDisplayName</c> in xUnit). Default: none.
    /// </summary>
    public Func<string?>? TestName { get; init; }

    /// <summary>
    /// The longest pause between two attempts of a waiter at the head of the queue, when no release is signalled
    /// (the local backend signals releases within a process at once). Default: 10 ms; from 1 ms to 1 s.
    /// </summary>
    public TimeSpan MaxPollInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// The local backend's directory for lock files. Default: <c>leases</c> under
    /// <see cref="DeflakeEnvironment.GetRuntimeDirectory"/>, which every test process of the user shares.
    /// </summary>
    public string? Directory { get; init; }

    internal LeaseOptions Validate()
    {
        if (TimeProvider is null)
        {
            throw new DeflakeConfigurationException(nameof(TimeProvider), "is null; leave it unset for the system clock.");
        }

        if (MaxPollInterval < TimeSpan.FromMilliseconds(1) || MaxPollInterval > TimeSpan.FromSeconds(1))
        {
            throw new DeflakeConfigurationException(nameof(MaxPollInterval),
                $"{MaxPollInterval.TotalMilliseconds} ms is out of range; use 1 ms to 1 s (default 10 ms).");
        }

        if (Directory is not null && string.IsNullOrWhiteSpace(Directory))
        {
            throw new DeflakeConfigurationException(nameof(Directory), "is empty; leave it unset for the runtime directory.");
        }

        return this;
    }
}
