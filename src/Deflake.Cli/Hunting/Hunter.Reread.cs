using System.Globalization;

namespace Deflake.Cli.Hunting;

/// <summary>
/// The hunt's last step: every finding is read again against every run the hunt made. A finding is settled when its
/// test is diagnosed, but runs made for tests diagnosed later (a collision's whole-suite run in parallel, other victims'
/// confirmations) can show the same test again. A verdict must not depend on the order in which the evidence came, so
/// a cause that a later run contradicts is withdrawn, as it would not have been named had that run come first.
/// </summary>
internal sealed partial class Hunter
{
    /// <summary>
    /// The order hypotheses behind the test-order findings: the polluters (or state-setters, for a brittle test) that the
    /// finding names, each a set of tests that only pollute together, the first the one it was named for.
    /// </summary>
    private readonly Dictionary<string, (IReadOnlyList<IReadOnlyList<string>> Sets, bool Brittle)> _orderHypotheses = new(StringComparer.Ordinal);

    /// <summary>
    /// The findings, each read again over every run of the hunt: a chaos cause whose mode is no longer confirmed
    /// (<see cref="ChaosEvidence.Confirmed"/>), or a polluter or state-setter a run now contradicts
    /// (<see cref="OrderEvidence.Contradiction"/>), becomes <c>nondeterministic</c>, with the run that says why.
    /// Collisions and findings that name no cause stand as they are.
    /// </summary>
    private List<Finding> Reread(List<Finding> findings)
    {
        var reread = new List<Finding>(findings.Count);
        foreach (var finding in findings)
        {
            var why = Contradiction(finding);
            if (why is null)
            {
                reread.Add(finding);
                continue;
            }

            var steps = finding.Steps.Append($"read again at the end of the hunt: {why}; the cause is withdrawn").ToList();
            var withdrawn = new Finding(finding.Test, FlakeCause.Nondeterministic, null,
                string.Create(CultureInfo.InvariantCulture,
                    $"Looked like {Describe(finding)} when it was diagnosed, but a run made later contradicts it: {why}. No cause is named. It {OrderEvidence.FailureRate(finding.Test, _runs)}."),
                finding.Reproduce, steps)
            { Message = finding.Message };
            reread.Add(withdrawn);
            // The live report named the first verdict: it names the one that stands.
            _progress.Found(withdrawn);
        }

        return reread;
    }

    /// <summary>Why the runs no longer support the finding's cause, or null when they do (or it names none to check).</summary>
    private string? Contradiction(Finding finding)
    {
        if (ChaosModeOf(finding.Cause) is { } mode)
        {
            var evidence = ChaosEvidenceOf(finding.Test, mode);
            return evidence.Confirmed ? null
                : evidence.FailedWithoutChaos is { } run ? $"it failed without chaos in '{run.Request.Name}'"
                : $"under chaos {mode} it {evidence.Summary}";
        }

        if (finding.Cause != FlakeCause.TestOrder || !_orderHypotheses.TryGetValue(finding.Test, out var hypothesis))
        {
            return null;
        }

        // Each named polluter (or state-setter) in turn, the others standing as independent ones (a failure after one of
        // them is explained; for a brittle test, a pass after one of them).
        var sets = hypothesis.Sets;
        for (var i = 0; i < sets.Count; i++)
        {
            var evidence = OrderEvidence.Of(finding.Test, sets[i], _runs, sets.Where((_, j) => j != i), brittle: hypothesis.Brittle);
            if (evidence.Contradiction is not null)
            {
                return evidence.Shortfall;
            }
        }

        return null;
    }

    /// <summary>The chaos mode whose cause this is, or null for a cause no mode names.</summary>
    private string? ChaosModeOf(string cause) => options.Modes.FirstOrDefault(m => FlakeCause.ForChaosMode(m) == cause && cause != FlakeCause.Nondeterministic);

    private static string Describe(Finding finding) => finding.Cause switch
    {
        FlakeCause.TestOrder when finding.Role == TestOrderRole.Brittle => $"a brittle test made to pass by {finding.StateSetter}",
        FlakeCause.TestOrder => $"a victim of {string.Join(", ", finding.Polluters)}",
        _ => $"a {finding.Cause} case",
    };
}
