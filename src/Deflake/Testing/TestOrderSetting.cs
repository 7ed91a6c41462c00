using System.Globalization;

namespace Deflake.Testing;

/// <summary>The kinds of test order <c>DEFLAKE_ORDER</c> can ask for.</summary>
public enum TestOrderKind
{
    /// <summary><c>DEFLAKE_ORDER</c> unset: the test framework's own order.</summary>
    Default,

    /// <summary><c>random</c>: a seeded, subset-stable shuffle (ordered by a hash of the seed and the test id).</summary>
    Random,

    /// <summary><c>reverse</c>: the framework's own order, reversed.</summary>
    Reverse,

    /// <summary>A path to a file listing test ids: run exactly those, in that order.</summary>
    File,
}

/// <summary>
/// The parsed value of <c>DEFLAKE_ORDER</c> (and <c>DEFLAKE_SEED</c> for <see cref="TestOrderKind.Random"/>).
/// </summary>
public sealed class TestOrderSetting
{
    // A process deflake started ahead of its run gets its DEFLAKE_ORDER at the start gate, before the first orderer.
    private static readonly Lazy<TestOrderSetting> Current = new(() =>
    {
        StartGate.Pass();
        DeflakeEnvironment.ReportActivity("process");
        return FromEnvironment(Environment.GetEnvironmentVariable);
    });

    private TestOrderSetting(TestOrderKind kind, int seed, string? filePath, IReadOnlyList<string> testIds)
    {
        Kind = kind;
        Seed = seed;
        FilePath = filePath;
        TestIds = testIds;
    }

    /// <summary>The framework's own order (no <c>DEFLAKE_ORDER</c>).</summary>
    public static TestOrderSetting Default { get; } = new(TestOrderKind.Default, 0, null, []);

    /// <summary>The setting of this process, read once from the environment.</summary>
    /// <exception cref="DeflakeConfigurationException"><c>DEFLAKE_ORDER</c> names a file that cannot be read, or a setting is malformed.</exception>
    public static TestOrderSetting FromProcessEnvironment => Current.Value;

    /// <summary>The setting of this process, or the error that makes it unusable (then the setting is <see cref="Default"/>).</summary>
    internal static (TestOrderSetting Setting, DeflakeConfigurationException? Error) OfProcess() => Read(() => Current.Value);

    /// <summary>
    /// The setting of this process for integrations whose framework would swallow an orderer's error and run its own
    /// order: when the setting cannot be used (a file that cannot be read), writes the one-line error to standard error
    /// and ends the process with exit code 2, before any test runs.
    /// </summary>
    public static TestOrderSetting OfProcessOrExit()
    {
        var (setting, error) = OfProcess();
        if (error is not null)
        {
            // The process's own standard error: frameworks that capture Console.Error per test (MSTest) would swallow it.
            Console.Out.Flush();
            using (var standardError = new StreamWriter(Console.OpenStandardError()))
            {
                standardError.WriteLine(error.Message);
            }

            Environment.Exit(2);
        }

        return setting;
    }

    /// <summary>A setting as read, or the error that makes it unusable (then the setting is <see cref="Default"/>).</summary>
    internal static (TestOrderSetting Setting, DeflakeConfigurationException? Error) Read(Func<TestOrderSetting> read)
    {
        try
        {
            return (read(), null);
        }
        catch (DeflakeConfigurationException ex)
        {
            return (Default, ex);
        }
    }

    /// <summary>Which order.</summary>
    public TestOrderKind Kind { get; }

    /// <summary>The seed of a <see cref="TestOrderKind.Random"/> order; 0 otherwise.</summary>
    public int Seed { get; }

    /// <summary>The file of a <see cref="TestOrderKind.File"/> order; null otherwise.</summary>
    public string? FilePath { get; }

    /// <summary>The test ids of a <see cref="TestOrderKind.File"/> order, in file order, without duplicates.</summary>
    public IReadOnlyList<string> TestIds { get; }

    /// <summary>A seeded random order.</summary>
    public static TestOrderSetting Random(int seed) => new(TestOrderKind.Random, seed, null, []);

    /// <summary>The framework's order reversed.</summary>
    public static TestOrderSetting Reverse() => new(TestOrderKind.Reverse, 0, null, []);

    /// <summary>Exactly these tests, in this order (duplicates keep their first place).</summary>
    public static TestOrderSetting List(IEnumerable<string> testIds, string? filePath = null)
    {
        ArgumentNullException.ThrowIfNull(testIds);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var ids = testIds.Select(id => id.Trim()).Where(id => id.Length > 0 && seen.Add(id)).ToArray();
        return new(TestOrderKind.File, 0, filePath, ids);
    }

    /// <summary>
    /// Reads <c>DEFLAKE_ORDER</c> and <c>DEFLAKE_SEED</c> through <paramref name="getVariable"/>.
    /// </summary>
    /// <exception cref="DeflakeConfigurationException">The order names a file that cannot be read, or the seed is not an integer.</exception>
    public static TestOrderSetting FromEnvironment(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        var order = getVariable(DeflakeEnvironment.Order)?.Trim();
        if (string.IsNullOrEmpty(order) || order.Equals("default", StringComparison.OrdinalIgnoreCase))
        {
            return Default;
        }

        if (order.Equals("random", StringComparison.OrdinalIgnoreCase))
        {
            var seedText = getVariable(DeflakeEnvironment.Seed);
            var seed = string.IsNullOrWhiteSpace(seedText) ? DeflakeEnvironment.CurrentSeed : DeflakeEnvironment.ParseSeed(seedText);
            return Random(seed);
        }

        if (order.Equals("reverse", StringComparison.OrdinalIgnoreCase))
        {
            return Reverse();
        }

        var path = DeflakeEnvironment.ResolveFile(order, getVariable);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new DeflakeConfigurationException(DeflakeEnvironment.Order,
                string.Create(CultureInfo.InvariantCulture,
                    $"'{order}' is neither 'random' nor 'reverse' nor a readable file of test ids ({ex.Message.TrimEnd('.')}). Set it to 'random', 'reverse', or the absolute path of a file listing one test id a line."));
        }

        return List(ParseTestList(lines), Path.GetFullPath(path));
    }

    /// <summary>Parses the lines of a test list: one test id a line; blank lines and lines starting with <c>#</c> are ignored.</summary>
    public static IEnumerable<string> ParseTestList(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        return lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'));
    }

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        TestOrderKind.Random => string.Create(CultureInfo.InvariantCulture, $"random (seed {Seed})"),
        TestOrderKind.Reverse => "reverse",
        TestOrderKind.File => $"file {FilePath} ({TestIds.Count} tests)",
        _ => "default",
    };
}
