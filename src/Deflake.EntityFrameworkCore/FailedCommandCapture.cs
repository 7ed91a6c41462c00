using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Deflake.EntityFrameworkCore;

/// <summary>
/// The SQL of the last command of one context that failed, read from EF Core's diagnostic events (the context is the
/// user's, built by their factory, so no interceptor can be added to it). The engine maps the database's error position
/// into this text, so a failed migration says the line and column of its SQL.
/// </summary>
internal sealed class FailedCommandCapture : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
{
    private readonly DbContext _context;
    private readonly IDisposable _listeners;
    private readonly List<IDisposable> _subscriptions = [];
    private readonly Lock _lock = new();

    private FailedCommandCapture(DbContext context)
    {
        _context = context;
        _listeners = DiagnosticListener.AllListeners.Subscribe(this);
    }

    /// <summary>The failed command's text, or null when none of this context's commands failed.</summary>
    public string? FailedSql { get; private set; }

    /// <summary>Starts listening for <paramref name="context"/>'s failed commands; dispose to stop.</summary>
    public static FailedCommandCapture Start(DbContext context) => new(context);

    public void OnNext(DiagnosticListener value)
    {
        if (value.Name == DbLoggerCategory.Name)
        {
            lock (_lock)
            {
                _subscriptions.Add(value.Subscribe(this, name => name == RelationalEventId.CommandError.Name));
            }
        }
    }

    public void OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Value is CommandErrorEventData error && ReferenceEquals(error.Context, _context))
        {
            FailedSql = error.Command.CommandText;
        }
    }

    public void OnCompleted()
    {
    }

    public void OnError(Exception error)
    {
    }

    public void Dispose()
    {
        _listeners.Dispose();
        lock (_lock)
        {
            _subscriptions.ForEach(s => s.Dispose());
            _subscriptions.Clear();
        }
    }
}
