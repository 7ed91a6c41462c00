using System.Globalization;

namespace Deflake;

/// <summary>
/// The environment contract: the <c>deflake</c> command sets these variables, and the library reads them
/// in every test process.
/// </summary>
public static class DeflakeEnvironment
{
    /// <summary>Comma list of chaos modes: <c>identities</c>, <c>rows</c>, <c>all</c>, <c>none</c> (default).</summary>
    public const string Chaos = "DEFLAKE_CHAOS";

    /// <summary>
    /// Path of a file that sets the chaos modes per test, overriding <c>DEFLAKE_CHAOS</c> for the tests it names: one
    /// line per test, <c>modes&lt;TAB&gt;test id</c> (modes as in <c>DEFLAKE_CHAOS</c>; <c>#</c> comments and blank lines
    /// ignored). Read by every test-framework integration (Deflake.Testing.TestPools), which hands each named test a database
    /// from a pool of its own chaos setting;
    /// <c>deflake hunt</c> uses it to check tests of several modes in one process.
    /// </summary>
    public const string ChaosTests = "DEFLAKE_CHAOS_TESTS";

    /// <summary>Integer seed for every random choice; printed so a run can be replayed.</summary>
    public const string Seed = "DEFLAKE_SEED";

    /// <summary>Test order: <c>random</c>, <c>reverse</c>, or a path to a file of test ids.</summary>
    public const string Order = "DEFLAKE_ORDER";

    /// <summary>
    /// <c>stdin</c>: the test process was started ahead of its run (by <c>deflake hunt</c> or <c>deflake bisect</c>).
    /// Before the first test, fixture or order is set up, the integration (Deflake.Testing.StartGate) reads <c>NAME=VALUE</c> lines of
    /// <c>DEFLAKE_*</c> settings from standard input until a line <c>go</c>, applies them to the process environment,
    /// and only then lets the run begin; if standard input ends first, the process exits without running anything.
    /// </summary>
    public const string StartGate = "DEFLAKE_START_GATE";

    /// <summary>What a test process started with <see cref="StartGate"/> writes to standard error when it begins to wait.</summary>
    public const string StartGateWaitingLine = "Deflake: waiting at the start gate";

    /// <summary>What a test process started with <see cref="StartGate"/> writes to standard error once its settings are applied.</summary>
    public const string StartGatePassedLine = "Deflake: start gate passed";

    /// <summary>
    /// Path of a file the test process appends what it did with Deflake databases to, one line each: <c>process</c>
    /// (an integration's order was read: the process reports), <c>pool&lt;TAB&gt;modes</c> when a pool starts, and
    /// <c>rent&lt;TAB&gt;modes</c> when a pool hands out its first database (modes as <c>DEFLAKE_CHAOS</c> spells them),
    /// and under <see cref="ChaosModes.Identities"/>, when a pool starts, <c>uncovered&lt;TAB&gt;engine&lt;TAB&gt;key&lt;TAB&gt;reason</c>
    /// for each key of its template that identities could not cover (<see cref="EngineTemplate.IdentitiesNotCovered"/>).
    /// <c>deflake hunt</c> sets it per run, so that it can tell a chaos run that checked nothing (no test used a Deflake
    /// database) from one that found nothing, and name what identities did not cover. Unset (the default): nothing is written.
    /// </summary>
    public const string Activity = "DEFLAKE_ACTIVITY";

    /// <summary><c>1</c>: keep the database of a failed test and print how to connect to it.</summary>
    public const string KeepFailed = "DEFLAKE_KEEP_FAILED";

    /// <summary>
    /// <c>0</c>: every test gets a brand-new clone, dropped after it (no recycling). <c>1</c> (default): a returned
    /// database is restored to the template's state in place and handed to the next test, where the engine can prove it.
    /// </summary>
    public const string Recycle = "DEFLAKE_RECYCLE";

    /// <summary>Admin connection string of a PostgreSQL server; unset: a throwaway local server.</summary>
    public const string Postgres = "DEFLAKE_POSTGRES";

    /// <summary>
    /// Where the throwaway PostgreSQL server keeps its data: <c>auto</c> (default: memory, <c>/dev/shm</c>, when
    /// available, else the runtime directory), <c>memory</c>, <c>disk</c> (the runtime directory), or an absolute folder.
    /// </summary>
    public const string PostgresDataDirectory = "DEFLAKE_POSTGRES_DATA_DIR";

    /// <summary>
    /// Where SQLite file clones live: <c>auto</c> (default: memory, <c>/dev/shm</c>, when available, else the cache
    /// directory), <c>memory</c>, <c>disk</c> (the cache directory), or an absolute folder. Templates stay in the cache.
    /// </summary>
    public const string SqliteCloneDirectory = "DEFLAKE_SQLITE_CLONE_DIR";

    /// <summary>Admin connection string of a MariaDB/MySQL server; unset: a throwaway local server.</summary>
    public const string MariaDb = "DEFLAKE_MARIADB";

    /// <summary>
    /// The folder holding <c>mariadbd</c> and <c>mariadb-install-db</c> for the throwaway MariaDB server; unset: <c>PATH</c>,
    /// then the usual folders (<c>/usr/sbin</c>, …). <c>MariaDbLocalServerOptions.BinDirectory</c> wins over it.
    /// </summary>
    public const string MariaDbBinDirectory = "DEFLAKE_MARIADB_BIN_DIR";

    /// <summary>
    /// Comma list of engines (<c>postgres</c>, <c>mariadb</c>) whose tests must run: Deflake's own test suites skip an
    /// engine's tests when its server binaries are missing, unless this names it (then they fail). CI sets it for all.
    /// </summary>
    public const string RequireEngines = "DEFLAKE_REQUIRE_ENGINES";

    /// <summary>Overrides the per-user cache directory (templates, SQLite clones, lock files).</summary>
    public const string CacheDirectory = "DEFLAKE_CACHE_DIR";

    /// <summary>Overrides the per-user runtime directory (sockets, the throwaway servers' data).</summary>
    public const string RuntimeDirectory = "DEFLAKE_RUNTIME_DIR";

    private static readonly Lazy<int> ProcessSeed = new(ReadOrCreateSeed);

    /// <summary>The chaos modes in <c>DEFLAKE_CHAOS</c>.</summary>
    public static ChaosModes ChaosModes => ChaosModeNames.Parse(Environment.GetEnvironmentVariable(Chaos));

    /// <summary>
    /// The seed in <c>DEFLAKE_SEED</c>, or one drawn once per process when it is unset (and then printed by
    /// whatever uses it, so the run can be replayed).
    /// </summary>
    public static int CurrentSeed => ProcessSeed.Value;

    /// <summary>Whether <c>DEFLAKE_SEED</c> was set, as opposed to drawn for this process.</summary>
    public static bool SeedWasSet => !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Seed));

    /// <summary>Whether <c>DEFLAKE_KEEP_FAILED=1</c>.</summary>
    public static bool KeepFailedDatabases => ParseFlag(Environment.GetEnvironmentVariable(KeepFailed), KeepFailed);

    /// <summary>Whether <c>DEFLAKE_RECYCLE</c> allows recycling: true when it is unset, <c>1</c> or <c>true</c>; false for <c>0</c> or <c>false</c>.</summary>
    public static bool RecycleDatabases => string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Recycle))
        || ParseFlag(Environment.GetEnvironmentVariable(Recycle), Recycle);

    /// <summary>The per-test chaos modes of the <c>DEFLAKE_CHAOS_TESTS</c> file: empty when it is unset.</summary>
    /// <exception cref="DeflakeConfigurationException">The file is missing, or a line is not <c>modes&lt;TAB&gt;test id</c>.</exception>
    public static IReadOnlyDictionary<string, ChaosModes> ReadChaosTests()
    {
        var path = Environment.GetEnvironmentVariable(ChaosTests);
        if (string.IsNullOrWhiteSpace(path))
        {
            return new Dictionary<string, ChaosModes>(StringComparer.Ordinal);
        }

        string text;
        try
        {
            text = File.ReadAllText(ResolveFile(path, Environment.GetEnvironmentVariable));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new DeflakeConfigurationException(ChaosTests, $"names '{path}', which cannot be read ({ex.Message.TrimEnd('.')}). Set it to the absolute path of a file of 'modes<TAB>test id' lines, or unset it.");
        }

        return ParseChaosTests(text);
    }

    private static readonly Lock ActivityLock = new();

    /// <summary>
    /// Appends a line to the <see cref="Activity"/> file, when it is set; does nothing otherwise. Cheap enough for once
    /// per pool and once per process, not for every rent.
    /// </summary>
    /// <param name="line">The line, without a line break.</param>
    /// <exception cref="DeflakeConfigurationException">The file cannot be written.</exception>
    public static void ReportActivity(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var path = Environment.GetEnvironmentVariable(Activity);
        if (string.IsNullOrWhiteSpace(path))
        {
            return;
        }

        try
        {
            lock (ActivityLock)
            {
                File.AppendAllText(path, line + "\n");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new DeflakeConfigurationException(Activity, $"names '{path}', which cannot be written ({ex.Message.TrimEnd('.')}). Unset it, or name a file in a writable folder.");
        }
    }

    /// <summary>
    /// Where a file a <c>DEFLAKE_*</c> setting names is. Test runners may run tests in another folder than the one the
    /// shell started them in (xUnit v3 runs them in the assembly's output folder), so a relative path that is not
    /// found in the current folder is looked up in the shell's (<c>PWD</c>, which POSIX shells export). Absolute
    /// paths, and relative ones found in neither place, are returned as they are.
    /// </summary>
    /// <param name="path">The path the setting names.</param>
    /// <param name="getVariable">Reads an environment variable (<c>PWD</c>).</param>
    public static string ResolveFile(string path, Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(getVariable);
        if (Path.IsPathRooted(path) || File.Exists(path) || getVariable("PWD") is not { Length: > 0 } shellDirectory || !Path.IsPathRooted(shellDirectory))
        {
            return path;
        }

        var fromShell = Path.Combine(shellDirectory, path);
        return File.Exists(fromShell) ? fromShell : path;
    }

    /// <summary>Parses the lines of a <c>DEFLAKE_CHAOS_TESTS</c> file: <c>modes&lt;TAB&gt;test id</c>.</summary>
    /// <exception cref="DeflakeConfigurationException">A line is not <c>modes&lt;TAB&gt;test id</c>, or names a test twice.</exception>
    public static IReadOnlyDictionary<string, ChaosModes> ParseChaosTests(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new Dictionary<string, ChaosModes>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var tab = line.IndexOf('\t', StringComparison.Ordinal);
            var test = tab < 0 ? string.Empty : line[(tab + 1)..].Trim();
            if (test.Length == 0)
            {
                throw new DeflakeConfigurationException(ChaosTests, $"line '{line}' is not 'modes<TAB>test id', such as 'rows<TAB>Shop.Tests.CartTests.Total'.");
            }

            if (!result.TryAdd(test, ChaosModeNames.Parse(line[..tab], ChaosTests)))
            {
                throw new DeflakeConfigurationException(ChaosTests, $"names {test} twice; give each test one line.");
            }
        }

        return result;
    }

    /// <summary>Parses a seed as the environment contract states it.</summary>
    public static int ParseSeed(string text, string setting = Seed)
    {
        if (!int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed))
        {
            throw new DeflakeConfigurationException(setting,
                $"'{text}' is not an integer seed; set it to a whole number such as 12345, or unset it for a fresh seed.");
        }

        return seed;
    }

    internal static bool ParseFlag(string? text, string setting) => text?.Trim() switch
    {
        null or "" or "0" => false,
        "1" => true,
        var other when other.Equals("true", StringComparison.OrdinalIgnoreCase) => true,
        var other when other.Equals("false", StringComparison.OrdinalIgnoreCase) => false,
        var other => throw new DeflakeConfigurationException(setting, $"'{other}' is not a flag; use 1 or 0."),
    };

    private static int ReadOrCreateSeed()
    {
        var text = Environment.GetEnvironmentVariable(Seed);
        return string.IsNullOrWhiteSpace(text)
            ? Random.Shared.Next(1, int.MaxValue)
            : ParseSeed(text);
    }

    /// <summary>The per-user cache directory: templates and lock files live here across runs.</summary>
    public static string GetCacheDirectory()
    {
        var configured = Environment.GetEnvironmentVariable(CacheDirectory);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured);
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = !string.IsNullOrWhiteSpace(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify), ".cache");
        if (string.IsNullOrWhiteSpace(root) || root == ".cache")
        {
            root = Path.Combine(Path.GetTempPath(), $"deflake-cache-{Environment.UserName}");
        }

        return Path.Combine(root, "deflake");
    }

    /// <summary>The per-user runtime directory: sockets and throwaway servers live here.</summary>
    public static string GetRuntimeDirectory()
    {
        var configured = Environment.GetEnvironmentVariable(RuntimeDirectory);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured);
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        return !string.IsNullOrWhiteSpace(xdg) && Directory.Exists(xdg)
            ? Path.Combine(xdg, "deflake")
            : Path.Combine(Path.GetTempPath(), $"deflake-{Environment.UserName}");
    }
}
