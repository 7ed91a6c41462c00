using Deflake.Cli.Running;

namespace Deflake.Cli.Hunting;

/// <summary>Why a test is flaky: the <c>cause</c> values of the report contract.</summary>
internal static class FlakeCause
{
    /// <summary>Fails alone under identities chaos: it confuses the ids of two tables.</summary>
    public const string IdentityAlignment = "identity-alignment";

    /// <summary>Fails alone under rows chaos: it relies on the order of rows a query without ORDER BY returns.</summary>
    public const string RowOrder = "row-order";

    /// <summary>Fails alone under a non-English culture: it parses or formats numbers, dates or text with the machine's culture.</summary>
    public const string Culture = "culture";

    /// <summary>Fails alone in a time zone far from UTC: it mixes local time (<c>DateTime.Now</c>) with UTC.</summary>
    public const string TimeZone = "time-zone";

    /// <summary>Passes alone, fails after certain other tests: they leave something behind.</summary>
    public const string TestOrder = "test-order";

    /// <summary>Fails only when tests run in parallel: it collides with another test on shared state.</summary>
    public const string ParallelCollision = "parallel-collision";

    /// <summary>Fails now and then with nothing changed.</summary>
    public const string Nondeterministic = "nondeterministic";

    /// <summary>Every cause, in report order.</summary>
    public static IReadOnlyList<string> All { get; } = [IdentityAlignment, RowOrder, Culture, TimeZone, TestOrder, ParallelCollision, Nondeterministic];

    /// <summary>The cause a chaos mode exposes.</summary>
    public static string ForChaosMode(string mode) => mode switch
    {
        "identities" => IdentityAlignment,
        "rows" => RowOrder,
        EnvironmentChaos.Culture => Culture,
        EnvironmentChaos.TimeZone => TimeZone,
        _ => Nondeterministic,
    };

    /// <summary>One sentence on what the cause means and what to do, for people reading a report.</summary>
    public static string Advice(string cause) => cause switch
    {
        IdentityAlignment => "The test mixes up ids of different tables; it only passed because their identities counted alike. Use the id of the row you mean.",
        RowOrder => "The test relies on the order of rows from a query without ORDER BY. Add ORDER BY, or compare without order.",
        Culture => "The test parses or formats numbers, dates or text with the machine's culture. Pass CultureInfo.InvariantCulture (or the culture you mean), or set the culture in the test.",
        TimeZone => "The test mixes local time with UTC (DateTime.Now, DateTime.Today, ToLocalTime). Use DateTime.UtcNow or an injected TimeProvider.",
        TestOrder => "Another test leaves data or state behind that this test sees (or, for a brittle test, sets up what it needs). Give each test its own database, and let each test set up what it needs.",
        ParallelCollision => "The test collides with a test running at the same time on shared state (one-time setup, a shared account or row). Isolate it, or lease the shared resource.",
        _ => "The test fails now and then with nothing changed: time, randomness, timing or an outside service.",
    };
}

/// <summary>One flaky test: what it is, why, who pollutes it, the evidence, and how to replay it.</summary>
internal sealed record Finding(string Test, string Cause, string? Polluter, string Evidence, string Reproduce, IReadOnlyList<string> Steps)
{
    /// <summary>Further polluters, when more than one test independently breaks the victim.</summary>
    public IReadOnlyList<string> OtherPolluters { get; init; } = [];

    /// <summary>The failure message seen.</summary>
    public string? Message { get; init; }

    /// <summary>
    /// For <see cref="FlakeCause.TestOrder"/>: <see cref="TestOrderRole.Polluted"/> (it fails after its polluters) or
    /// <see cref="TestOrderRole.Brittle"/> (it fails alone and passes only after its state-setters); null for other causes.
    /// </summary>
    public string? Role { get; init; }

    /// <summary>Every polluter, <see cref="Polluter"/> first, then <see cref="OtherPolluters"/> (empty unless polluted).</summary>
    public IReadOnlyList<string> Polluters => Polluter is null || Cause != FlakeCause.TestOrder ? [] : [Polluter, .. OtherPolluters];

    /// <summary>For a brittle test: the tests that, run before it, make it pass (each one alone does; the first confirmed).</summary>
    public IReadOnlyList<string> StateSetters { get; init; } = [];

    /// <summary>For a brittle test: the first of <see cref="StateSetters"/>, the one confirmed by repetition; otherwise null.</summary>
    public string? StateSetter => StateSetters.Count > 0 ? StateSetters[0] : null;
}

/// <summary>The <c>role</c> of a test-order finding in the report.</summary>
internal static class TestOrderRole
{
    /// <summary>It passes alone and fails after another test, its polluter, left something behind.</summary>
    public const string Polluted = "polluted";

    /// <summary>It fails alone and passes only after another test, its state-setter, set something up for it.</summary>
    public const string Brittle = "brittle";
}

/// <summary>What a hunt found, with every run it made.</summary>
internal sealed record HuntOutcome(
    int Seed,
    string Project,
    IReadOnlyList<string> Modes,
    int TestCount,
    IReadOnlyList<RunResult> Runs,
    int SurveyRunCount,
    IReadOnlyList<Finding> Findings,
    IReadOnlyList<string> AlwaysFailing,
    DateTimeOffset Started,
    TimeSpan Duration)
{
    /// <summary>
    /// The chaos modes under which no test used a Deflake database (the test processes said so): nothing was checked
    /// under them, and the hunt must not claim them.
    /// </summary>
    public IReadOnlyList<string> UncheckedModes => Modes
        .Where(m => Runs.Any(r => r.Request.Chaos == m && r.ChaosReached == false) && !Runs.Any(r => r.Request.Chaos == m && r.ChaosReached == true))
        .ToArray();

    /// <summary>The chaos modes the hunt checked: all but <see cref="UncheckedModes"/> (a process that does not report counts as checked).</summary>
    public IReadOnlyList<string> CheckedModes => Modes.Except(UncheckedModes, StringComparer.Ordinal).ToArray();
}
