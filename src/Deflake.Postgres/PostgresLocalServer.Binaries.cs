using System.Globalization;
using System.Text.RegularExpressions;
using Deflake.Internal;

namespace Deflake.Postgres;

/// <summary>
/// Finding the PostgreSQL binaries (<see cref="PostgresLocalServerOptions.BinDirectory"/>, else <c>pg_config --bindir</c>,
/// <c>initdb</c> on <c>PATH</c>, then the usual install folders) and reading their major version.
/// </summary>
public sealed partial class PostgresLocalServer
{
    /// <summary>Where to look for PostgreSQL binaries when no folder is configured (tests replace it).</summary>
    internal sealed record BinarySearch(string? PathVariable, IReadOnlyList<(string Root, string Pattern)> Roots)
    {
        public static BinarySearch Default { get; } = new(null,
            [("/usr/lib/postgresql", "*"), ("/usr", "pgsql-*"), ("/opt/homebrew/opt", "postgresql@*"), ("/usr/local/opt", "postgresql@*")]);
    }

    internal static async Task<string> FindBinariesAsync(string? configured, BinarySearch? search = null, CancellationToken cancellationToken = default)
    {
        static bool HasTools(string? directory) => !string.IsNullOrEmpty(directory)
            && File.Exists(Path.Combine(directory, "initdb")) && File.Exists(Path.Combine(directory, "pg_ctl")) && File.Exists(Path.Combine(directory, "postgres"));

        if (configured is not null)
        {
            var full = Path.GetFullPath(configured);
            return HasTools(full)
                ? full
                : throw new DeflakeConfigurationException("PostgresLocalServerOptions.BinDirectory",
                    $"'{full}' does not hold initdb, pg_ctl and postgres; point it at PostgreSQL's bin folder (pg_config --bindir prints it).");
        }

        search ??= BinarySearch.Default;
        var pathVariable = search.PathVariable ?? Environment.GetEnvironmentVariable("PATH");
        var looked = new List<string> { "pg_config --bindir" };
        var pgConfig = ProcessRunner.FindOnPath("pg_config", pathVariable);
        if (pgConfig is not null)
        {
            try
            {
                var result = await ProcessRunner.RunAsync(pgConfig, ["--bindir"], TimeSpan.FromSeconds(10), cancellationToken: cancellationToken).ConfigureAwait(false);
                var bindir = result.Output.Trim();
                if (result.ExitCode == 0 && HasTools(bindir))
                {
                    return bindir;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }

        looked.Add("PATH");
        var initdb = ProcessRunner.FindOnPath("initdb", pathVariable);
        if (initdb is not null && HasTools(Path.GetDirectoryName(initdb)))
        {
            return Path.GetDirectoryName(initdb)!;
        }

        foreach (var (root, pattern) in search.Roots)
        {
            looked.Add(Path.Combine(root, pattern, "bin"));
            if (!Directory.Exists(root))
            {
                continue;
            }

            var best = Directory.GetDirectories(root, pattern)
                .Select(d => (Directory: Path.Combine(d, "bin"), Version: VersionOf(Path.GetFileName(d))))
                .Where(c => c.Version > 0 && HasTools(c.Directory))
                .OrderByDescending(c => c.Version)
                .FirstOrDefault();
            if (best.Directory is not null)
            {
                return best.Directory;
            }
        }

        throw new DeflakeConfigurationException(Setting,
            $"no PostgreSQL binaries found (looked in: {string.Join(", ", looked)}); install PostgreSQL (apt-get install postgresql), set PostgresLocalServerOptions.BinDirectory, or set DEFLAKE_POSTGRES to an existing server's admin connection string.");
    }

    private static double VersionOf(string name)
    {
        var match = VersionPattern().Match(name);
        return match.Success ? double.Parse(match.Value, CultureInfo.InvariantCulture) : 0;
    }

    private static async Task<int> ReadMajorVersionAsync(string binDirectory, CancellationToken cancellationToken)
    {
        var result = await ProcessRunner.RunAsync(Path.Combine(binDirectory, "pg_ctl"), ["--version"], TimeSpan.FromSeconds(10), cancellationToken: cancellationToken).ConfigureAwait(false);
        var match = VersionPattern().Match(result.Output);
        if (result.ExitCode != 0 || !match.Success)
        {
            throw new DeflakeConfigurationException("PostgresLocalServerOptions.BinDirectory",
                $"'{binDirectory}/pg_ctl --version' did not print a version ({result.FirstErrorLine()}); point BinDirectory at a working PostgreSQL installation.");
        }

        return (int)Math.Floor(double.Parse(match.Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"\d+(\.\d+)?")]
    private static partial Regex VersionPattern();
}
