using System.Data.Common;
using Deflake.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Deflake;

/// <summary>EF Core on a <see cref="TestDatabase"/>, the way that keeps chaos in effect.</summary>
public static class TestDatabaseEfCoreExtensions
{
    /// <summary>
    /// Opens a connection through <paramref name="database"/> (so chaos that lives in connections, SQLite's <c>rows</c>,
    /// reaches the context) and builds a context on it with <paramref name="createContext"/>, typically the same function
    /// given to <see cref="EfCoreSchema.FromDbContext{TContext}"/>. Dispose the context; the connection is closed when
    /// the database is disposed.
    /// </summary>
    /// <remarks>
    /// A context built on <see cref="TestDatabase.ConnectionString"/> opens plain connections of its own: on SQLite they
    /// miss <c>rows</c> chaos (see docs/chaos.md). On PostgreSQL and MariaDB both ways see every chaos mode.
    /// </remarks>
    /// <exception cref="DeflakeConfigurationException">The factory returned null, threw, or built the context on another connection.</exception>
    public static async ValueTask<TContext> CreateDbContextAsync<TContext>(this TestDatabase database, Func<DbConnection, TContext> createContext,
        CancellationToken cancellationToken = default)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(createContext);
        var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return DbContextFactory.Create(createContext, connection, "TestDatabase.CreateDbContextAsync factory");
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
