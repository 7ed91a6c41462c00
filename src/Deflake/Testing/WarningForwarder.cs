using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Deflake.Testing;

/// <summary>
/// A logger factory for a pool that a test framework owns: what Deflake logs at warning level or above (tables
/// <c>identities</c> does not cover, fallbacks, databases that could not be dropped) is written to standard error at
/// once and kept until the next test that rents a database shows it in its own output. Everything is also passed to
/// the user's <see cref="TestDatabaseOptions.LoggerFactory"/>, when there is one.
/// </summary>
public sealed class WarningForwarder : ILoggerFactory
{
    private readonly ILoggerFactory? _inner;
    private readonly Action<string>? _diagnostic;
    private readonly ConcurrentQueue<string> _pending = new();
    private readonly ConcurrentQueue<string> _all = new();

    /// <summary>Creates the forwarder.</summary>
    /// <param name="inner">The user's logger factory, or null.</param>
    /// <param name="diagnostic">Where the framework shows messages that belong to no test (xUnit's diagnostic messages), or null.</param>
    public WarningForwarder(ILoggerFactory? inner, Action<string>? diagnostic)
    {
        _inner = inner;
        _diagnostic = diagnostic;
    }

    /// <summary>Every warning line so far, in the order logged.</summary>
    public IReadOnlyCollection<string> Warnings => _all;

    /// <summary>Takes the warning lines no test has shown yet.</summary>
    public IReadOnlyList<string> TakePending()
    {
        var lines = new List<string>();
        while (_pending.TryDequeue(out var line))
        {
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>The one line a warning is shown as: <c>Deflake warning: …</c>, with the first line of the exception's message.</summary>
    public static string Format(string message, Exception? exception)
    {
        ArgumentNullException.ThrowIfNull(message);
        var text = message.StartsWith("Deflake ", StringComparison.Ordinal) ? message["Deflake ".Length..] : message;
        if (exception is not null)
        {
            text += $" ({exception.GetType().Name}: {exception.Message.Split('\n')[0].Trim()})";
        }

        return "Deflake warning: " + text.ReplaceLineEndings(" ");
    }

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new Logger(this, _inner?.CreateLogger(categoryName));

    /// <inheritdoc/>
    public void AddProvider(ILoggerProvider provider) => _inner?.AddProvider(provider);

    /// <summary>Does nothing: the user's factory belongs to the user.</summary>
    public void Dispose()
    {
    }

    private void Warn(string line)
    {
        _all.Enqueue(line);
        _pending.Enqueue(line);
        _diagnostic?.Invoke(line);
        Console.Error.WriteLine(line);
    }

    private sealed class Logger(WarningForwarder owner, ILogger? inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner?.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning || (inner?.IsEnabled(logLevel) ?? false);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            if (logLevel >= LogLevel.Warning && logLevel != LogLevel.None)
            {
                owner.Warn(Format(formatter(state, exception), exception));
            }

            if (inner?.IsEnabled(logLevel) == true)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
