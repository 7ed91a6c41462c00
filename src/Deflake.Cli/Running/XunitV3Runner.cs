using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;

namespace Deflake.Cli.Running;

/// <summary>
/// Runs a built xUnit v3 test assembly directly (<c>dotnet Tests.dll</c>: v3 test projects are programs), with the
/// runner's own switch for parallelism and its xUnit XML results, and Deflake's environment contract for order (a
/// run of some tests is a list run: the order file is also the filter), chaos and seed.
/// </summary>
/// <remarks>
/// <para>
/// <b>Warm start</b> (unless <paramref name="warmStart"/> is false): most of a short run is the process starting
/// (the runtime, the runner, test discovery), so while one run's tests run, the next run's process starts with
/// <c>DEFLAKE_START_GATE=stdin</c> and waits before any fixture, order or test is set up. When that run begins it
/// gets its <c>DEFLAKE_*</c> settings on standard input and goes. Only the parallelism is fixed when it starts (the
/// runner's own switch): <see cref="ExpectNext"/> says which, that either may come (then one of each waits), or that
/// none will; <see cref="StartAhead"/> starts the first run's process before the caller is ready for it. A run of a
/// kind none waits for starts the plain way.
/// </para>
/// <para>
/// A run whose process did not confirm it waited (a Deflake.Xunit without the gate) is run again the plain way, and
/// so is every later run. A waiting process whose deflake is gone sees its standard input end and exits untouched.
/// </para>
/// </remarks>
internal sealed partial class XunitV3Runner(string assemblyPath, string workDirectory, TimeSpan timeout, bool warmStart = true) : ITestRunner
{
    private int _runNumber;
    private readonly RunInputs _inputs = new(workDirectory);
    private int? _xunitSeed;
    private bool _warmStart = warmStart;
    private RunKinds? _expected;
    private readonly Dictionary<bool, Ahead> _ahead = [];
    private static readonly (RunKinds Kind, bool Parallel)[] Kinds = [(RunKinds.OneAtATime, false), (RunKinds.Parallel, true)];

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> ListTestsAsync(CancellationToken cancellationToken = default)
        => (await ListTestCasesAsync(cancellationToken).ConfigureAwait(false)).Select(t => t.Id).ToArray();

    /// <inheritdoc/>
    public async Task<IReadOnlyList<TestCase>> ListTestCasesAsync(CancellationToken cancellationToken = default)
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
        var ids = new List<TestCase>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var test in document.RootElement.EnumerateArray())
        {
            var id = test.TryGetProperty("Class", out var c) && test.TryGetProperty("Method", out var m)
                ? $"{c.GetString()}.{m.GetString()}"
                : test.GetProperty("DisplayName").GetString() ?? string.Empty;
            if (seen.Add(id))
            {
                var traits = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
                if (test.TryGetProperty("Traits", out var listed) && listed.ValueKind == JsonValueKind.Object)
                {
                    foreach (var trait in listed.EnumerateObject())
                    {
                        traits[trait.Name] = trait.Value.ValueKind == JsonValueKind.Array
                            ? trait.Value.EnumerateArray().Select(v => v.GetString() ?? string.Empty).ToArray()
                            : [trait.Value.ToString()];
                    }
                }

                ids.Add(new TestCase(id, traits));
            }
        }

        return ids;
    }

    /// <summary>How many runs went to a process started ahead of them (warm starts).</summary>
    public int RunsStartedAhead { get; private set; }

    /// <summary>The process ids of the processes started ahead and waiting for a run.</summary>
    public IReadOnlyList<int> WaitingProcessIds => _ahead.Values.Select(a => a.Process.Id).ToArray();

    /// <inheritdoc/>
    public void ExpectNext(RunKinds kinds) => _expected = kinds;

    /// <inheritdoc/>
    public void StartAhead(bool parallel, int seed)
    {
        _xunitSeed ??= seed;
        if (_warmStart && !_ahead.ContainsKey(parallel))
        {
            _ahead[parallel] = StartGated(parallel);
        }
    }

    /// <inheritdoc/>
    public async Task<RunResult> RunAsync(RunRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        Directory.CreateDirectory(workDirectory);
        // xUnit's own seed (':seed') is the first run's seed for every run, so that a process can start before its
        // run is known; DEFLAKE_SEED carries each run's seed.
        _xunitSeed ??= request.Seed;

        // The process started ahead for this run, if it fits (same parallelism, still waiting). A run under an
        // environment chaos mode (culture, timezone) needs its variables set when its process starts: it starts its own.
        var warm = _warmStart && EnvironmentChaos.Variables(request).Count == 0;
        Ahead? ahead = null;
        if (warm)
        {
            _ahead.Remove(request.Parallel, out ahead);
        }

        if (ahead is not null && (ahead.Process.HasExited || !_warmStart))
        {
            await ahead.Process.DisposeAsync().ConfigureAwait(false);
            ahead = null;
        }

        ProcessResult result;
        int number;
        if (warm)
        {
            var process = ahead ?? StartGated(request.Parallel);
            number = process.Number;
            await using (process.Process.ConfigureAwait(false))
            {
                var environment = await WriteInputsAsync(request, number, cancellationToken).ConfigureAwait(false);
                var opened = await OpenGateAsync(process.Process, environment).ConfigureAwait(false);
                process.Process.RestartClock();
                // While this run's tests run, the next run's process starts and waits at its gate: of the kind
                // expected (without a word, this run's kind), one of each when either may come, none when none will.
                var expected = _expected ?? (request.Parallel ? RunKinds.Parallel : RunKinds.OneAtATime);
                foreach (var (kind, parallel) in Kinds.Where(k => expected.HasFlag(k.Kind) && !_ahead.ContainsKey(k.Parallel)))
                {
                    _ahead[parallel] = StartGated(parallel);
                }

                result = await process.Process.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
                if (!opened || !result.Error.Contains(DeflakeEnvironment.StartGatePassedLine, StringComparison.Ordinal))
                {
                    // It did not wait for its settings (a Deflake.Xunit older than this deflake?): its results do not
                    // stand for the request. Every run from here starts when it begins.
                    _warmStart = false;
                    await DisposeAsync().ConfigureAwait(false);

                    return await RunAsync(request, cancellationToken).ConfigureAwait(false);
                }

                RunsStartedAhead += ahead is null ? 0 : 1;
            }
        }
        else
        {
            number = Interlocked.Increment(ref _runNumber);
            var environment = await WriteInputsAsync(request, number, cancellationToken).ConfigureAwait(false);
            result = await ProcessRunner.RunAsync("dotnet", Arguments(request.Parallel, number), environment, timeout: timeout, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        var xml = XmlPath(number);
        if (result.TimedOut)
        {
            throw CliException.Run($"run '{request.Name}' did not finish within {timeout.TotalMinutes:0.#} minutes (a hung test?); replay: {ReproduceCommand(request)}");
        }

        if (!File.Exists(xml))
        {
            throw CliException.Run($"run '{request.Name}' produced no results (exit code {result.ExitCode}): {FirstLine(result.Error + result.Output)}");
        }

        var document = XDocument.Load(xml);
        return new RunResult(request, ParseResults(document), result.Duration, ReproduceCommand(request))
        {
            Discovered = CountTests(document),
            Activity = await _inputs.ReadActivityAsync(number, cancellationToken).ConfigureAwait(false),
        };
    }

    /// <summary>Kills the processes started ahead and still waiting, if any; the runner can run again.</summary>
    public async ValueTask DisposeAsync()
    {
        var waiting = _ahead.Values.ToArray();
        _ahead.Clear();
        foreach (var ahead in waiting)
        {
            await ahead.Process.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A test process started ahead of its run, waiting at its start gate.</summary>
    private sealed record Ahead(StartedProcess Process, int Number);

    private Ahead StartGated(bool parallel)
    {
        var number = Interlocked.Increment(ref _runNumber);
        var environment = Environment(null);
        environment[DeflakeEnvironment.StartGate] = "stdin";
        return new Ahead(ProcessRunner.Start("dotnet", Arguments(parallel, number), environment, withInput: true), number);
    }

    /// <summary>Hands a waiting process its run's settings and lets it go; false when it no longer listens.</summary>
    private static async Task<bool> OpenGateAsync(StartedProcess process, Dictionary<string, string?> environment)
    {
        try
        {
            foreach (var (name, value) in environment.Where(p => p.Key.StartsWith("DEFLAKE_", StringComparison.Ordinal) && p.Key != DeflakeEnvironment.StartGate))
            {
                await process.Input.WriteLineAsync($"{name}={value}").ConfigureAwait(false);
            }

            await process.Input.WriteLineAsync("go").ConfigureAwait(false);
            await process.Input.FlushAsync().ConfigureAwait(false);
            process.Input.Close();
            return true;
        }
        catch (IOException)
        {
            // It exited before its gate opened.
            return false;
        }
    }

    /// <summary>Writes the run's order and per-test chaos files; returns its DEFLAKE_* settings (null: unset).</summary>
    private Task<Dictionary<string, string?>> WriteInputsAsync(RunRequest request, int number, CancellationToken cancellationToken)
        => _inputs.WriteAsync(request, number, cancellationToken);

    private string XmlPath(int number) => Path.Combine(workDirectory, string.Create(CultureInfo.InvariantCulture, $"run-{number:D4}.xml"));

    /// <summary>The run's <c>DEFLAKE_ACTIVITY</c> file: what its test process did with Deflake databases.</summary>
    private string ActivityPath(int number) => _inputs.ActivityPath(number);

    /// <summary>Whether a file name is one a runner writes in its work folder (<see cref="RunInputs.IsWorkFile"/>).</summary>
    internal static bool IsWorkFile(string fileName) => RunInputs.IsWorkFile(fileName);

    private List<string> Arguments(bool parallel, int number) => [assemblyPath, .. RunnerArguments(_xunitSeed ?? 0, parallel), "-noLogo", "-noColor", "-xml", XmlPath(number)];

    /// <inheritdoc/>
    /// <remarks>
    /// The command works from any folder: the assembly is named by its absolute path, and the order and chaos files it
    /// writes are handed over as <c>"$PWD/…"</c>, which the shell makes absolute (xUnit v3 runs tests in the
    /// assembly's output folder, where a relative path would not be found). A run of some tests also passes each as
    /// <c>-method</c>, so that only they run even where the order file is not honoured.
    /// </remarks>
    public string ReproduceCommand(RunRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var filters = request.Tests is null ? [] : request.Tests.Distinct(StringComparer.Ordinal).SelectMany(t => new[] { "-method", t });
        IEnumerable<string> words = ["dotnet", Path.GetFullPath(assemblyPath), .. RunnerArguments(_xunitSeed ?? request.Seed, request.Parallel), .. filters];
        return RunInputs.ReproducePrefix(request) + string.Join(' ', words.Select(Shell.Quote));
    }

    /// <summary>The file a printed <c>reproduce</c> command writes the order of its tests to, in the shell's folder.</summary>
    internal const string OrderFileName = RunInputs.OrderFileName;

    /// <summary>The file a printed <c>reproduce</c> command writes its per-test chaos modes to, in the shell's folder.</summary>
    internal const string ChaosFileName = RunInputs.ChaosFileName;

    private static IEnumerable<string> RunnerArguments(int seed, bool parallel)
    {
        // ':seed' pins xUnit's own randomisation, so a run can be replayed.
        yield return ":" + seed.ToString(CultureInfo.InvariantCulture);
        yield return "-parallel";
        if (parallel)
        {
            yield return "collections";
            yield return "-maxThreads";
            yield return "unlimited";
        }
        else
        {
            yield return "none";
        }
    }

    /// <summary>The run's DEFLAKE_* settings (null: unset); for a process started ahead (no request), all unset.</summary>
    private static Dictionary<string, string?> Environment(RunRequest? request) => RunInputs.Environment(request);

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
