namespace Deflake;

/// <summary>
/// Thrown when a setting is wrong. The message is one line: which setting, what was wrong, how to fix it.
/// </summary>
public sealed class DeflakeConfigurationException : Exception
{
    /// <summary>Creates the exception for <paramref name="setting"/>.</summary>
    public DeflakeConfigurationException(string setting, string message, Exception? inner = null)
        : base($"{setting}: {message}", inner)
    {
        Setting = setting;
    }

    /// <summary>The setting (option, environment variable or file) that was wrong.</summary>
    public string Setting { get; }
}

/// <summary>
/// Thrown when a template cannot be built: names the failing migration and carries the database's error.
/// </summary>
public sealed class TemplateBuildException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TemplateBuildException(string step, Exception inner)
        : base($"Deflake could not build the template: {step} failed: {FirstLine(inner.Message)}", inner)
    {
        Step = step;
    }

    /// <summary>The migration file or delegate that failed.</summary>
    public string Step { get; }

    private static string FirstLine(string text)
    {
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        return end < 0 ? text : text[..end].TrimEnd('\r');
    }
}
