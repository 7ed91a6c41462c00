using System.Diagnostics;
using System.Xml.Linq;

namespace Deflake.Cli.Tests.EndToEnd;

/// <summary>Runs a printed <c>reproduce</c> command as a user would: <c>bash -c</c>, in a folder of the caller's choosing.</summary>
internal static class Replay
{
    /// <summary>What a replay ran: each test's outcome (true: passed), the tests in the order they started, the exit code.</summary>
    public sealed record Result(int ExitCode, IReadOnlyDictionary<string, bool> Outcomes, IReadOnlyList<string> Started, string Output);

    /// <summary>
    /// Runs the command with <c>-xml FILE</c> appended (the only change: it adds a results file), in
    /// <paramref name="workingDirectory"/>, with no DEFLAKE_* variable inherited.
    /// </summary>
    public static async Task<Result> RunAsync(string command, string workingDirectory)
    {
        var xml = Path.Combine(workingDirectory, $"results-{Guid.NewGuid():N}.xml");
        var info = new ProcessStartInfo("bash") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"{command} -xml {xml}");
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("DEFLAKE_", StringComparison.Ordinal)).ToArray())
        {
            info.Environment.Remove(name);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var text = await output + await error;
        var tests = File.Exists(xml)
            ? XDocument.Load(xml).Descendants("test")
                .Select(t => (Id: $"{(string?)t.Attribute("type")}.{(string?)t.Attribute("method")}", Passed: (string?)t.Attribute("result") == "Pass", Start: (string?)t.Attribute("start-rtf")))
                .OrderBy(t => t.Start, StringComparer.Ordinal)
                .ToArray()
            : [];
        return new Result(process.ExitCode,
            tests.GroupBy(t => t.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.All(t => t.Passed), StringComparer.Ordinal),
            tests.Select(t => t.Id).Distinct(StringComparer.Ordinal).ToArray(),
            text);
    }

    /// <summary>
    /// Runs a printed command of a Microsoft.Testing.Platform program (NUnit, MSTest) with
    /// <c>--report-trx --report-trx-filename FILE --results-directory FOLDER</c> appended (the only change: it adds a
    /// results file), in <paramref name="workingDirectory"/>, with no DEFLAKE_* variable inherited.
    /// </summary>
    public static async Task<Result> RunTestingPlatformAsync(string command, string workingDirectory)
    {
        var trx = $"results-{Guid.NewGuid():N}.trx";
        var (code, text) = await RunShellAsync($"{command} --report-trx --report-trx-filename {trx} --results-directory {workingDirectory}", workingDirectory);
        var path = Path.Combine(workingDirectory, trx);
        var tests = File.Exists(path) ? Running.TrxResults.Parse(XDocument.Load(path)) : [];
        return new Result(code, tests.ToDictionary(t => t.TestId, t => t.Passed, StringComparer.Ordinal), tests.Select(t => t.TestId).ToArray(), text);
    }

    private static async Task<(int ExitCode, string Output)> RunShellAsync(string line, string workingDirectory)
    {
        var info = new ProcessStartInfo("bash") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(line);
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("DEFLAKE_", StringComparison.Ordinal)).ToArray())
        {
            info.Environment.Remove(name);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }

    /// <summary>The tests a command names in its order file (<c>printf '%s\n' A B &gt; deflake-order.txt</c>), in that order.</summary>
    public static string[] NamedTests(string command)
    {
        const string Start = "printf '%s\\n' ";
        var start = command.IndexOf(Start, StringComparison.Ordinal);
        Assert.True(start >= 0, $"no order file in: {command}");
        var end = command.IndexOf(" > ", start, StringComparison.Ordinal);
        return command[(start + Start.Length)..end].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>
    /// The command without <paramref name="test"/>: neither in its order file nor as a <c>-method</c> filter nor as a
    /// term of a <c>--filter</c>; an MSTest order chain (<c>--config-file</c>) goes too (what is left is one test).
    /// </summary>
    public static string Without(string command, string test)
    {
        var without = command.Replace($" -method {test}", string.Empty, StringComparison.Ordinal).Replace($" {test} ", " ", StringComparison.Ordinal)
            .Replace($"FullyQualifiedName={test}|", string.Empty, StringComparison.Ordinal).Replace($"|FullyQualifiedName={test}", string.Empty, StringComparison.Ordinal);
        without = System.Text.RegularExpressions.Regex.Replace(without, @"printf '%s\\n' '\{""mstest""[^']*' > deflake\.testconfig\.json && ", string.Empty);
        return without.Replace(" --config-file \"$PWD/deflake.testconfig.json\"", string.Empty, StringComparison.Ordinal);
    }
}
