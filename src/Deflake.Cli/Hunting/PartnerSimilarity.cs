using System.Text.RegularExpressions;

namespace Deflake.Cli.Hunting;

/// <summary>
/// How much two failing tests have in common, to rank collision partners that the timings cannot tell apart: the
/// words and numbers of their failure messages (without the assertion library's own words) and of their method names.
/// </summary>
internal static partial class PartnerSimilarity
{
    private static readonly HashSet<string> Noise = new(StringComparer.Ordinal)
    {
        "assert", "equal", "true", "false", "failure", "values", "differ", "expected", "actual", "collections", "at",
        "index", "pos", "the", "a", "an", "of", "to", "its", "is", "in", "and", "or", "not", "null", "but", "was", "be",
        "test", "tests", "should",
    };

    /// <summary>The distinctive words of a test: from its method name and its failure messages.</summary>
    public static HashSet<string> Words(string testId, IEnumerable<string?> messages)
    {
        var words = new HashSet<string>(StringComparer.Ordinal);
        var method = testId[(testId.LastIndexOf('.') + 1)..];
        foreach (var text in messages.Append(method))
        {
            if (text is null)
            {
                continue;
            }

            foreach (Match match in Word().Matches(text))
            {
                var word = match.Value.ToLowerInvariant();
                if (!Noise.Contains(word))
                {
                    words.Add(word);
                }
            }
        }

        return words;
    }

    /// <summary>Jaccard similarity of two word sets, 0 to 1.</summary>
    public static double Score(IReadOnlySet<string> a, IReadOnlySet<string> b)
    {
        if (a.Count == 0 || b.Count == 0)
        {
            return 0;
        }

        var shared = a.Count(b.Contains);
        return (double)shared / (a.Count + b.Count - shared);
    }

    // Runs of letters (camel-case humps apart) or of digits.
    [GeneratedRegex(@"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")]
    private static partial Regex Word();
}
