using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;

namespace Deflake.Cli.Running;

/// <summary>
/// Runs a built xUnit v3 test assembly directly (<c>dotnet Tests.dll</c>: v3 test projects are programs), with the
/// runner's own switches for filters and parallelism and its xUnit XML results, and Deflake's environment contract
/// for order, chaos and seed.
/// </summary>
internal sealed class XunitV3Runner(string assemblyPath, string workDirectory, TimeSpan timeout) : ITestRunner
{
    private int _runNumber;

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> ListTestsAsync(CancellationToken cancellationToken = default)
    {
        var result = await ProcessRunner.RunAsync("dotnet", [assemblyPath, "-list", "full/json", "-noColor", "-noLogo"],
            Environment(new RunRequest("list", RunOrderKind.Default, "none", 0, false)), timeout: timeout, cancellationToken: cancellationToken).ConfigureAwait(false);
        var start = result.Output.IndexOf('[', StringComparison.Ordinal);
        var end = result.Output.LastIndexOf(']');
        if (result.ExitCode != 0 || start < 0 || end < start)
        {
            throw CliException.Run($"{Shell.DisplayPath(assemblyPath)} could not list its tests: {FirstLine(result.Error + result.Output)}");
        }

        using var document = JsonDocument.Parse(result.Output[start..(end + 1)]);
        var ids = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var test in document.RootElement.EnumerateArray())
        {
            var id = test.TryGetProperty("Class", out var c) && test.TryGetProperty("Method", out var m)
                ? $"{c.GetString()}.{m.GetString()}"
                : test.GetProperty("DisplayName").GetString() ?? string.Empty;
            if (seen.Add(id))
            {
                ids.Add(id);
            }
        }

        return ids;
    }

    /// <inheritdoc/>
    public async Task<RunResult> RunAsync(RunRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        Directory.CreateDirectory(workDirectory);
        var number = Interlocked.Increment(ref _runNumber);
        var xml = Path.Combine(workDirectory, string.Create(CultureInfo.InvariantCulture, $"run-{number:D4}.xml"));
        string? orderFile = null;
        if (request.Order == RunOrderKind.List)
        {
            orderFile = Path.Combine(workDirectory, string.Create(CultureInfo.InvariantCulture, $"order-{number:D4}.txt"));
            await File.WriteAllLinesAsync(orderFile, request.Tests ?? [], cancellationToken).ConfigureAwait(false);
        }

        string? chaosFile = null;
        if (request.TestChaos is { Count: > 0 } testChaos)
        {
            chaosFile = Path.Combine(workDirectory, string.Create(CultureInfo.InvariantCulture, $"chaos-{number:D4}.txt"));
            await File.WriteAllLinesAsync(chaosFile, testChaos.Select(p => $"{p.Value}\t{p.Key}"), cancellationToken).ConfigureAwait(false);
        }

        var arguments = new List<string> { assemblyPath };
        arguments.AddRange(RunnerArguments(request));
        arguments.AddRange(["-noLogo", "-noColor", "-xml", xml]);
        var result = await ProcessRunner.RunAsync("dotnet", arguments, Environment(request, orderFile, chaosFile), timeout: timeout, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.TimedOut)
        {
            throw CliException.Run($"run '{request.Name}' did not finish within {timeout.TotalMinutes:0.#} minutes (a hung test?); replay: {ReproduceCommand(request)}");
        }

        if (!File.Exists(xml))
        {
            throw CliException.Run($"run '{request.Name}' produced no results (exit code {result.ExitCode}): {FirstLine(result.Error + result.Output)}");
        }

        var document = XDocument.Load(xml);
        return new RunResult(request, ParseResults(document), result.Duration, ReproduceCommand(request)) { Discovered = CountTests(document) };
    }

    /// <inheritdoc/>
    public string ReproduceCommand(RunRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var environment = new List<KeyValuePair<string, string>>();
        if (request.Chaos != "none")
        {
            environment.Add(new(DeflakeEnvironment.Chaos, request.Chaos));
        }

        environment.Add(new(DeflakeEnvironment.Seed, request.Seed.ToString(CultureInfo.InvariantCulture)));
        var prefix = string.Empty;
        if (request.TestChaos is { Count: > 0 } testChaos)
        {
            prefix = $"printf '%s\\t%s\\n' {string.Join(' ', testChaos.SelectMany(p => new[] { Shell.Quote(p.Value), Shell.Quote(p.Key) }))} > deflake-chaos.txt && ";
            environment.Add(new(DeflakeEnvironment.ChaosTests, "deflake-chaos.txt"));
        }

        switch (request.Order)
        {
            case RunOrderKind.Random:
                environment.Add(new(DeflakeEnvironment.Order, "random"));
                break;
            case RunOrderKind.Reverse:
                environment.Add(new(DeflakeEnvironment.Order, "reverse"));
                break;
            case RunOrderKind.List:
                prefix += $"printf '%s\\n' {string.Join(' ', (request.Tests ?? []).Select(Shell.Quote))} > deflake-order.txt && ";
                environment.Add(new(DeflakeEnvironment.Order, "deflake-order.txt"));
                break;
        }

        return prefix + Shell.Join(environment, ["dotnet", Shell.DisplayPath(assemblyPath), .. RunnerArguments(request)]);
    }

    private static IEnumerable<string> RunnerArguments(RunRequest request)
    {
        // ':seed' pins xUnit's own randomisation (it shuffles collections by default), so a run can be replayed.
        yield return ":" + request.Seed.ToString(CultureInfo.InvariantCulture);
        yield return "-parallel";
        if (request.Parallel)
        {
            yield return "collections";
            yield return "-maxThreads";
            yield return "unlimited";
        }
        else
        {
            yield return "none";
        }

        foreach (var test in request.Tests ?? [])
        {
            yield return "-method";
            yield return test;
        }
    }

    private static Dictionary<string, string?> Environment(RunRequest request, string? orderFile = null, string? chaosFile = null) => new(StringComparer.Ordinal)
    {
        [DeflakeEnvironment.Chaos] = request.Chaos,
        [DeflakeEnvironment.ChaosTests] = chaosFile,
        [DeflakeEnvironment.Seed] = request.Seed.ToString(CultureInfo.InvariantCulture),
        [DeflakeEnvironment.Order] = request.Order switch
        {
            RunOrderKind.Random => "random",
            RunOrderKind.Reverse => "reverse",
            RunOrderKind.List => orderFile,
            _ => null,
        },
    };

    /// <summary>Reads xUnit v2+ XML results: one outcome per test id (theory rows folded), in start order.</summary>
    internal static IReadOnlyList<TestOutcome> ParseResults(XDocument document)
    {
        var outcomes = new Dictionary<string, TestOutcome>(StringComparer.Ordinal);
        foreach (var test in document.Descendants("test"))
        {
            var type = (string?)test.Attribute("type");
            var method = (string?)test.Attribute("method");
            var id = type is not null && method is not null ? $"{type}.{method}" : (string?)test.Attribute("name") ?? "?";
            var result = (string?)test.Attribute("result");
            if (result is "Skip" or "NotRun")
            {
                continue;
            }

            var passed = result == "Pass";
            var message = passed ? null : FirstLines(UnescapeXunit((string?)test.Element("failure")?.Element("message") ?? "failed"), 4);
            var start = Time(test, "start-rtf");
            var finish = Time(test, "finish-rtf");
            var collection = (string?)test.Ancestors("collection").FirstOrDefault()?.Attribute("name");
            if (outcomes.TryGetValue(id, out var earlier))
            {
                outcomes[id] = new TestOutcome(id, earlier.Passed && passed, earlier.Message ?? message,
                    Earliest(earlier.Start, start), Latest(earlier.Finish, finish)) { Collection = earlier.Collection ?? collection };
            }
            else
            {
                outcomes[id] = new TestOutcome(id, passed, message, start, finish) { Collection = collection };
            }
        }

        return outcomes.Values.OrderBy(o => o.Start ?? DateTimeOffset.MaxValue).ToArray();
    }

    /// <summary>How many distinct test ids the results name, skipped and not-run tests included (theory rows folded).</summary>
    internal static int CountTests(XDocument document)
        => document.Descendants("test")
            .Select(t => (string?)t.Attribute("type") is { } type && (string?)t.Attribute("method") is { } method ? $"{type}.{method}" : (string?)t.Attribute("name") ?? "?")
            .Distinct(StringComparer.Ordinal)
            .Count();

    private static DateTimeOffset? Time(XElement test, string attribute)
        => DateTimeOffset.TryParse((string?)test.Attribute(attribute), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time) ? time : null;

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) => a is { } x && b is { } y ? (x < y ? x : y) : a ?? b;

    private static DateTimeOffset? Latest(DateTimeOffset? a, DateTimeOffset? b) => a is { } x && b is { } y ? (x > y ? x : y) : a ?? b;

    /// <summary>
    /// Undoes the escaping xUnit applies to messages in its XML results on top of XML's own: <c>\\</c>, <c>\"</c>,
    /// <c>\r</c>, <c>\n</c>, <c>\t</c>, <c>\0</c>, <c>\a</c>, <c>\b</c>, <c>\v</c>, <c>\f</c>, and <c>\x</c> with two
    /// hex digits (control characters) or four (characters XML cannot hold). Anything else is left as it is.
    /// </summary>
    internal static string UnescapeXunit(string text)
    {
        if (!text.Contains('\\', StringComparison.Ordinal))
        {
            return text;
        }

        var result = new System.Text.StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '\\' || i + 1 == text.Length)
            {
                result.Append(c);
                continue;
            }

            var next = text[i + 1];
            char? simple = next switch
            {
                '\\' => '\\',
                '"' => '"',
                'r' => '\r',
                'n' => '\n',
                't' => '\t',
                '0' => '\0',
                'a' => '\a',
                'b' => '\b',
                'v' => '\v',
                'f' => '\f',
                _ => null,
            };
            if (simple is { } unescaped)
            {
                result.Append(unescaped);
                i++;
            }
            else if (next == 'x' && TryHex(text, i + 2, 4, out var wide) && (char.IsSurrogate((char)wide) || wide is 0xFFFE or 0xFFFF))
            {
                result.Append((char)wide);
                i += 5;
            }
            else if (next == 'x' && TryHex(text, i + 2, 2, out var narrow) && narrow < 0x20)
            {
                result.Append((char)narrow);
                i += 3;
            }
            else
            {
                result.Append(c);
            }
        }

        return result.ToString();
    }

    private static bool TryHex(string text, int start, int length, out int value)
    {
        value = 0;
        return start + length <= text.Length
            && int.TryParse(text.AsSpan(start, length), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    private static string FirstLines(string text, int count)
        => string.Join('\n', text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(count).Select(l => l.TrimEnd()));

    private static string FirstLine(string text)
    {
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? string.Empty;
        return line.Length > 300 ? line[..300] + "…" : line;
    }
}
