namespace Shop.FlakyTests;

/// <summary>
/// Holds a test at a point until its partner test reaches the same point, or a short time has passed. Real races
/// hit their window now and then; this makes the planted races (seeds 003 and 004) hit it every time their tests run
/// at the same time, and never when they run one after the other, so the sample's flakiness is itself not flaky.
/// When tests run one at a time it does not wait at all.
/// </summary>
internal static class RaceWindow
{
    // Tests in one process run one at a time when the runner is told '-parallel none' (what deflake does for its
    // order runs); then there is no partner to wait for.
    private static readonly bool OneAtATime = Environment.GetCommandLineArgs()
        .Zip(Environment.GetCommandLineArgs().Skip(1))
        .Any(pair => pair.First.Equals("-parallel", StringComparison.OrdinalIgnoreCase) && pair.Second.Equals("none", StringComparison.OrdinalIgnoreCase));
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, TaskCompletionSource> Waiting = new(StringComparer.Ordinal);

    /// <summary>How long the first test waits for its partner.</summary>
    public static TimeSpan Window { get; } = TimeSpan.FromSeconds(3);

    /// <summary>Waits for the partner at <paramref name="point"/>; true when it came (the tests run concurrently).</summary>
    public static async Task<bool> MeetAsync(string point, TimeSpan wait, CancellationToken cancellationToken)
    {
        TaskCompletionSource mine;
        lock (Gate)
        {
            if (OneAtATime)
            {
                return false;
            }

            if (Waiting.Remove(point, out var partner))
            {
                partner.TrySetResult();
                return true;
            }

            mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Waiting[point] = mine;
        }

        try
        {
            await mine.Task.WaitAsync(wait, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            lock (Gate)
            {
                if (Waiting.TryGetValue(point, out var still) && still == mine)
                {
                    Waiting.Remove(point);
                }
            }

            return mine.Task.IsCompleted;
        }
    }
}
