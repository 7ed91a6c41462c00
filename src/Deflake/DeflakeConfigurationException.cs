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
/// Thrown when a template cannot be built: names the failing migration and carries the database's error. When the
/// engine can tell where in the migration's SQL the database stopped, the message says <c>file:line:column</c> (for a
/// migration file) or the line and column of the SQL the step ran (EF Core migrations).
/// </summary>
public sealed class TemplateBuildException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TemplateBuildException(string step, Exception inner)
        : this(step, inner, file: null, sql: null)
    {
    }

    /// <summary>Creates the exception for a step that ran <paramref name="sql"/>, read from <paramref name="file"/> when it came from one.</summary>
    /// <param name="step">The migration file or delegate that failed.</param>
    /// <param name="inner">The database's error.</param>
    /// <param name="file">The full path of the migration file, or null.</param>
    /// <param name="sql">The SQL text the step ran (the file's text), or null when unknown.</param>
    public TemplateBuildException(string step, Exception inner, string? file, string? sql)
        : this(step, inner ?? throw new ArgumentNullException(nameof(inner)), file, sql, null)
    {
    }

    private TemplateBuildException(string step, Exception inner, string? file, string? sql, (int Line, int Column)? at)
        : base(Format(step, inner, file, sql, at), inner)
    {
        Step = step;
        File = file;
        Sql = sql;
        Line = at?.Line;
        Column = at?.Column;
    }

    /// <summary>The migration file or delegate that failed.</summary>
    public string Step { get; }

    /// <summary>The full path of the migration file that failed, when the step is a file.</summary>
    public string? File { get; }

    /// <summary>The SQL text the failed step ran, when known (a migration file's text, or the command EF Core ran).</summary>
    public string? Sql { get; }

    /// <summary>The 1-based line in <see cref="Sql"/> (so in <see cref="File"/>) where the database stopped, when the engine could tell.</summary>
    public int? Line { get; }

    /// <summary>The 1-based column (in characters) on <see cref="Line"/>, when the engine could tell.</summary>
    public int? Column { get; }

    /// <summary>
    /// This error, located: <paramref name="offset"/> is the 0-based character offset in <paramref name="sql"/> (null:
    /// <see cref="Sql"/>) where the database stopped, mapped to <see cref="Line"/> and <see cref="Column"/>. For engines,
    /// which know how their database reports a position. An offset outside the text returns this error unchanged.
    /// </summary>
    public TemplateBuildException AtOffset(int offset, string? sql = null)
    {
        var text = sql ?? Sql;
        if (text is null || offset < 0 || offset > text.Length)
        {
            return this;
        }

        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < offset; i++)
        {
            if (text[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return new TemplateBuildException(Step, InnerException!, File, text, (line, offset - lineStart + 1));
    }

    private static string Format(string step, Exception inner, string? file, string? sql, (int Line, int Column)? at)
    {
        var message = FirstLine(inner.Message);
        if (at is not { } position)
        {
            return $"Deflake could not build the template: {step} failed: {message}";
        }

        if (file is not null)
        {
            return $"Deflake could not build the template: {step} failed at {file}:{position.Line}:{position.Column}: {message}";
        }

        var lines = sql!.Split('\n');
        var text = lines[position.Line - 1].Trim();
        text = text.Length > 80 ? text[..77] + "..." : text;
        return $"Deflake could not build the template: {step} failed at line {position.Line}, column {position.Column} of its SQL ({text}): {message}";
    }

    private static string FirstLine(string text)
    {
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        return end < 0 ? text : text[..end].TrimEnd('\r');
    }
}
