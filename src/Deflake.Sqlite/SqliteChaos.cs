using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Deflake.Sqlite;

/// <summary>Chaos that lives in the SQLite template (identity ranges). Filled in by the chaos modes.</summary>
internal static class SqliteTemplateChaos
{
    public static Task ApplyAsync(SqliteConnection connection, TemplateRequest request, ILogger logger, CancellationToken cancellationToken)
    {
        _ = connection;
        _ = request;
        _ = logger;
        _ = cancellationToken;
        return Task.CompletedTask;
    }
}

/// <summary>Chaos applied to every connection Deflake opens or configures (row order). Filled in by the chaos modes.</summary>
internal static class SqliteRowChaos
{
    public static SqliteConnection Configure(SqliteConnection connection, EngineContext context)
    {
        _ = context;
        return connection;
    }
}
