using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>Where a hunt reports what it is doing, while it does it.</summary>
internal interface IHuntProgress
{
    /// <summary>A phase or step started.</summary>
    void Status(string text);

    /// <summary>A run finished.</summary>
    void RunFinished(RunResult run, bool survey);

    /// <summary>A test's cause is known.</summary>
    void Found(Finding finding);
}

/// <summary>Reports nothing.</summary>
internal sealed class SilentProgress : IHuntProgress
{
    public static SilentProgress Instance { get; } = new();

    public void Status(string text)
    {
    }

    public void RunFinished(RunResult run, bool survey)
    {
    }

    public void Found(Finding finding)
    {
    }
}
