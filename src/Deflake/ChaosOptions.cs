namespace Deflake;

/// <summary>Chaos modes that turn hidden flakiness into failures that happen on every run.</summary>
[Flags]
public enum ChaosModes
{
    /// <summary>No chaos (the default).</summary>
    None = 0,

    /// <summary>Every table with an identity, serial or autoincrement key starts in its own range.</summary>
    Identities = 1,

    /// <summary>Results of queries without ORDER BY come back in a seeded random order.</summary>
    Rows = 2,

    /// <summary>Every mode.</summary>
    All = Identities | Rows,
}

/// <summary>Parses the <c>DEFLAKE_CHAOS</c> list.</summary>
public static class ChaosModeNames
{
    /// <summary>The names accepted in <c>DEFLAKE_CHAOS</c>.</summary>
    public static IReadOnlyList<string> Valid { get; } = ["identities", "rows", "all", "none"];

    /// <summary>Parses a comma list such as <c>identities,rows</c>.</summary>
    /// <exception cref="DeflakeConfigurationException">An unknown name; the message lists the valid ones.</exception>
    public static ChaosModes Parse(string? text, string setting = DeflakeEnvironment.Chaos)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return ChaosModes.None;
        }

        var modes = ChaosModes.None;
        foreach (var raw in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            modes |= raw.ToLowerInvariant() switch
            {
                "identities" => ChaosModes.Identities,
                "rows" => ChaosModes.Rows,
                "all" => ChaosModes.All,
                "none" => ChaosModes.None,
                _ => throw new DeflakeConfigurationException(setting,
                    $"unknown chaos mode '{raw}'; valid modes are {string.Join(", ", Valid)} (comma-separated).")
            };
        }

        return modes;
    }

    /// <summary>Formats modes as the comma list <see cref="Parse"/> reads.</summary>
    public static string Format(ChaosModes modes) => modes switch
    {
        ChaosModes.None => "none",
        ChaosModes.All => "all",
        _ => string.Join(",", new[] { (ChaosModes.Identities, "identities"), (ChaosModes.Rows, "rows") }
            .Where(m => modes.HasFlag(m.Item1)).Select(m => m.Item2)),
    };
}
