using System.Globalization;

namespace Deflake.Cli.Running;

/// <summary>
/// The chaos modes of the test process's environment rather than its databases: <c>culture</c> (a seeded non-English
/// culture, through <c>LC_ALL</c> and <c>LANG</c>, which .NET reads for <c>CultureInfo.CurrentCulture</c> on Linux and
/// macOS) and <c>timezone</c> (a seeded zone far from UTC, through <c>TZ</c>, which .NET reads for
/// <c>TimeZoneInfo.Local</c> and <c>DateTime.Now</c>). They are set when the test process starts, so a run under one
/// starts its own process (no warm start), and the <c>reproduce</c> command sets the same variables.
/// </summary>
internal static class EnvironmentChaos
{
    /// <summary>Run under a seeded non-English culture.</summary>
    public const string Culture = "culture";

    /// <summary>Run under a seeded time zone far from UTC.</summary>
    public const string TimeZone = "timezone";

    /// <summary>Both modes, in report order.</summary>
    public static IReadOnlyList<string> Modes { get; } = [Culture, TimeZone];

    /// <summary>
    /// The cultures <c>culture</c> picks from: none of them writes numbers like English (decimal comma, or the Arabic
    /// decimal separator), several write dates day first, and Turkish upper-cases <c>i</c> to <c>İ</c>.
    /// </summary>
    public static IReadOnlyList<string> Cultures { get; } = ["de-DE", "tr-TR", "ar-SA", "fr-FR", "ru-RU", "pt-BR"];

    /// <summary>
    /// The zones <c>timezone</c> picks from: each is hours away from UTC, most by a fraction of an hour, so that the
    /// local date or hour differs from UTC's at any time of day.
    /// </summary>
    public static IReadOnlyList<string> Zones { get; } = ["Pacific/Kiritimati", "America/St_Johns", "Asia/Kathmandu", "Pacific/Chatham", "Pacific/Marquesas"];

    /// <summary>Whether the mode is one of these (set in the process's environment, not in its databases).</summary>
    public static bool IsEnvironmentMode(string mode) => mode is Culture or TimeZone;

    /// <summary>The culture a seed picks.</summary>
    public static string CultureFor(int seed) => Cultures[Pick(seed, Cultures.Count)];

    /// <summary>The time zone a seed picks.</summary>
    public static string ZoneFor(int seed) => Zones[Pick(seed, Zones.Count)];

    /// <summary>What the mode sets under this seed, for people: <c>tr-TR</c>, <c>Pacific/Kiritimati</c>; empty for other modes.</summary>
    public static string Describe(string mode, int seed) => mode switch
    {
        Culture => CultureFor(seed),
        TimeZone => ZoneFor(seed),
        _ => string.Empty,
    };

    /// <summary>The environment variables a run under <paramref name="mode"/> sets, in the order a command line shows them; none for other modes.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Variables(string mode, int seed)
    {
        switch (mode)
        {
            case Culture:
                // LC_ALL wins over every other LC_* a machine sets; LANG too, for programs that read only it.
                var locale = CultureFor(seed).Replace('-', '_') + ".UTF-8";
                return [new("LC_ALL", locale), new("LANG", locale)];
            case TimeZone:
                return [new("TZ", ZoneFor(seed))];
            default:
                return [];
        }
    }

    /// <summary>The environment variables a request's run sets (its process-wide chaos mode); none without an environment mode.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Variables(RunRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Variables(request.Chaos, request.Seed);
    }

    /// <summary>
    /// Deflake's own <c>DEFLAKE_CHAOS</c> for a request: its mode, except an environment mode, which is no database
    /// chaos (the databases run without chaos). Null: leave it unset.
    /// </summary>
    public static string? DatabaseChaos(RunRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return IsEnvironmentMode(request.Chaos) ? "none" : request.Chaos;
    }

    /// <summary>A stable pick from a seed (the same on every platform and .NET version, unlike <see cref="Random"/>).</summary>
    private static int Pick(int seed, int count) => (int)(unchecked((uint)seed * 2654435761u) % (uint)count);

    /// <summary>"culture tr-TR" or "timezone Pacific/Kiritimati", for names and evidence.</summary>
    public static string Label(string mode, int seed) => string.Create(CultureInfo.InvariantCulture, $"{mode} {Describe(mode, seed)}");
}
