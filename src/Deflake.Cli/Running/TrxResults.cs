using System.Globalization;
using System.Xml.Linq;

namespace Deflake.Cli.Running;

/// <summary>
/// Reads TRX results (Visual Studio's test results format, written by Microsoft.Testing.Platform's
/// <c>--report-trx</c> and by VSTest's TRX logger) into one outcome per test id <c>Namespace.Class.Method</c>.
/// </summary>
/// <remarks>
/// A result names its test by <c>testId</c>; the test's definition (<c>UnitTest/TestMethod</c>) gives its class and
/// method. Data rows of one method (NUnit's <c>M(1)</c>, MSTest's rows) fold into one outcome: first start, last finish,
/// failed when any row failed. Skipped and not-run tests are left out of the outcomes but counted as discovered.
/// </remarks>
internal static class TrxResults
{
    private static readonly XNamespace Ns = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";

    /// <summary>The outcomes, in the order the tests started.</summary>
    public static IReadOnlyList<TestOutcome> Parse(XDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var ids = TestIds(document);
        var outcomes = new Dictionary<string, TestOutcome>(StringComparer.Ordinal);
        foreach (var (result, index) in Results(document).Select((r, i) => (r, i)))
        {
            var id = IdOf(result, ids);
            var outcome = (string?)result.Attribute("outcome");
            if (outcome is null or "NotExecuted" or "Inconclusive" or "NotRunnable" or "Pending" or "Disconnected" or "Warning" or "Skipped")
            {
                continue;
            }

            var passed = outcome is "Passed" or "PassedButRunAborted";
            var message = passed ? null : FirstLines(result.Element(Ns + "Output")?.Element(Ns + "ErrorInfo")?.Element(Ns + "Message")?.Value ?? outcome, 4);
            var start = Time(result, "startTime");
            var finish = Time(result, "endTime");
            if (outcomes.TryGetValue(id, out var earlier))
            {
                outcomes[id] = new TestOutcome(id, earlier.Passed && passed, earlier.Message ?? message, Earliest(earlier.Start, start), Latest(earlier.Finish, finish));
            }
            else
            {
                outcomes[id] = new TestOutcome(id, passed, message, start, finish);
            }
        }

        // Stable: results without times keep the file's order.
        return outcomes.Values.OrderBy(o => o.Start ?? DateTimeOffset.MaxValue).ToArray();
    }

    /// <summary>How many distinct test ids the results name, skipped and not-run tests included (data rows folded).</summary>
    public static int CountTests(XDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var ids = TestIds(document);
        return Results(document).Select(r => IdOf(r, ids)).Distinct(StringComparer.Ordinal).Count();
    }

    /// <summary>
    /// A test id from a class and a method name as a framework reports them: the method's arguments (<c>M(1, "a")</c>)
    /// and generic arguments dropped, so every row of a method has the method's id.
    /// </summary>
    public static string TestId(string className, string methodName)
    {
        ArgumentNullException.ThrowIfNull(className);
        ArgumentNullException.ThrowIfNull(methodName);
        var cut = methodName.IndexOfAny(['(', '<']);
        return $"{className}.{(cut > 0 ? methodName[..cut] : methodName).Trim()}";
    }

    private static IEnumerable<XElement> Results(XDocument document)
        => document.Descendants(Ns + "UnitTestResult").Where(r => r.Element(Ns + "InnerResults") is null);

    /// <summary>The id of every test definition: <c>UnitTest/@id</c> to <c>Class.Method</c>.</summary>
    private static Dictionary<string, string> TestIds(XDocument document)
    {
        var ids = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var test in document.Descendants(Ns + "UnitTest"))
        {
            var method = test.Element(Ns + "TestMethod");
            if ((string?)test.Attribute("id") is { } id && (string?)method?.Attribute("className") is { } className && (string?)method.Attribute("name") is { } name)
            {
                ids[id] = TestId(className, name);
            }
        }

        return ids;
    }

    private static string IdOf(XElement result, Dictionary<string, string> ids)
        => (string?)result.Attribute("testId") is { } testId && ids.TryGetValue(testId, out var id) ? id : (string?)result.Attribute("testName") ?? "?";

    private static DateTimeOffset? Time(XElement element, string attribute)
        => DateTimeOffset.TryParse((string?)element.Attribute(attribute), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time) ? time : null;

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) => a is { } x && b is { } y ? (x < y ? x : y) : a ?? b;

    private static DateTimeOffset? Latest(DateTimeOffset? a, DateTimeOffset? b) => a is { } x && b is { } y ? (x > y ? x : y) : a ?? b;

    private static string FirstLines(string text, int count)
        => string.Join('\n', text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(count).Select(l => l.TrimEnd()));
}
