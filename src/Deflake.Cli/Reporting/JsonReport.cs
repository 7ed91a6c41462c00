using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Deflake.Cli.Hunting;
using Deflake.Cli.Running;

namespace Deflake.Cli.Reporting;

/// <summary>The JSON report of the contract in ARCHITECTURE.md (<c>seed</c>, <c>runs</c>, <c>findings</c>), plus context.</summary>
internal static class JsonReport
{
    // Source-generated: no reflection at the end of a hunt, where every millisecond is the user's wait.
    private static readonly JsonReportContext Context = new(new JsonSerializerOptions
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    });

    /// <summary>The report document.</summary>
    internal sealed record Document(
        int Seed,
        string Project,
        DateTimeOffset Started,
        double Duration,
        int Tests,
        IReadOnlyList<string> Modes,
        IReadOnlyList<Run> Runs,
        IReadOnlyList<Item> Findings,
        IReadOnlyList<string> AlwaysFailing,
        IReadOnlyList<string> CheckedModes,
        IReadOnlyList<string> UncheckedModes,
        IReadOnlyList<NotCovered> IdentitiesNotCovered);

    /// <summary>
    /// A key <c>identities</c> chaos could not give a range of its own (its ids count as without chaos), once per engine
    /// and key over the whole hunt: <c>key</c> is the table (SQLite), <c>table.column</c> (MariaDB) or
    /// <c>schema.table.column</c> (PostgreSQL).
    /// </summary>
    internal sealed record NotCovered(string Engine, string Key, string Reason);

    /// <summary>
    /// One run: <c>mode</c> is the chaos mode (<c>none</c> without chaos); <c>chaosReached</c>, for a run under chaos,
    /// whether a test used a Deflake database under it (false: nothing was checked; null: no chaos, or not reported).
    /// </summary>
    internal sealed record Run(string Name, string Mode, string Order, bool Parallel, int Seed, int Passed, int Failed, double Duration, bool Survey, IReadOnlyList<string> FailedTests, bool? ChaosReached);

    /// <summary>
    /// One finding. For <c>test-order</c>, <c>role</c> is <c>polluted</c> (<c>polluter</c> is the first of
    /// <c>polluters</c>, every test that breaks it on its own) or <c>brittle</c> (it fails alone; <c>stateSetter</c> is
    /// the first of <c>stateSetters</c>, the tests that make it pass; <c>polluter</c> is null); null for other causes.
    /// </summary>
    internal sealed record Item(string Test, string Cause, string? Polluter, string Evidence, string Reproduce, IReadOnlyList<string> OtherPolluters, string? Message, IReadOnlyList<string> Steps,
        string? Role, IReadOnlyList<string> Polluters, string? StateSetter, IReadOnlyList<string> StateSetters);

    /// <summary>Builds the document of a hunt.</summary>
    public static Document From(HuntOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var runs = outcome.Runs.Select((r, i) => new Run(
            r.Request.Name, r.Request.Chaos, r.Request.OrderName, r.Request.Parallel, r.Request.Seed, r.Passed, r.Failed,
            Math.Round(r.Duration.TotalSeconds, 3), i < outcome.SurveyRunCount, r.Tests.Where(t => !t.Passed).Select(t => t.TestId).ToArray(), r.ChaosReached)).ToArray();
        return new Document(outcome.Seed, outcome.Project, outcome.Started, Math.Round(outcome.Duration.TotalSeconds, 3), outcome.TestCount, outcome.Modes, runs,
            outcome.Findings.Select(f => new Item(f.Test, f.Cause, f.Polluter, f.Evidence, f.Reproduce, f.OtherPolluters, f.Message, f.Steps,
                f.Role, f.Polluters, f.StateSetter, f.StateSetters)).ToArray(),
            outcome.AlwaysFailing, outcome.CheckedModes, outcome.UncheckedModes,
            IdentityCoverage.NotCovered(outcome.Runs).Select(k => new NotCovered(k.Engine, k.Key, k.Reason)).ToArray());
    }

    /// <summary>Serialises a hunt.</summary>
    public static string Serialize(HuntOutcome outcome) => JsonSerializer.Serialize(From(outcome), Context.Document);

    /// <summary>Writes a hunt's report.</summary>
    public static async Task WriteAsync(HuntOutcome outcome, string path, CancellationToken cancellationToken = default)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        await File.WriteAllTextAsync(path, Serialize(outcome), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The serializer metadata of <see cref="JsonReport.Document"/>, made at build time.</summary>
[JsonSerializable(typeof(JsonReport.Document))]
internal sealed partial class JsonReportContext : JsonSerializerContext;
