using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace Deflake.EntityFrameworkCore;

/// <summary>Schema sources made from an EF Core <see cref="DbContext"/>.</summary>
public static class EfCoreSchema
{
    /// <summary>
    /// The migrations of <typeparamref name="TContext"/>, applied once to the template with <c>MigrateAsync</c>
    /// (<c>EnsureCreatedAsync</c> when the context has no migrations). The fingerprint is the SQL EF Core would run for
    /// the engine's provider: the migration ids in order, the migration script (or the create script) and the provider's
    /// name, so editing a migration under the same id, or the model of a context without migrations, makes a new template.
    /// </summary>
    /// <param name="createContext">
    /// Builds a new context on the connection it is given, for example
    /// <c>connection =&gt; new ShopContext(new DbContextOptionsBuilder&lt;ShopContext&gt;().UseSqlite(connection).Options)</c>.
    /// It is called with the template's open connection to migrate it, and with an unopened connection of the engine's
    /// provider to render the script for the fingerprint; it must build the context on that very connection, not on a
    /// connection string. The source disposes the contexts it makes; they must not own the connection.
    /// </param>
    /// <remarks>
    /// Needs an engine that gives its ADO.NET provider (<see cref="IDatabaseEngine.ProviderFactory"/>): SQLite, PostgreSQL
    /// and MariaDB do. The pool asks for the fingerprint through
    /// <see cref="SchemaSource.ComputeFingerprintAsync(SchemaContext, CancellationToken)"/>; the overload without a
    /// <see cref="SchemaContext"/> cannot know the provider and fails with <see cref="DeflakeConfigurationException"/>.
    /// </remarks>
    /// <example>
    /// <code>
    /// var schema = EfCoreSchema.FromDbContext(connection =&gt; new ShopContext(
    ///     new DbContextOptionsBuilder&lt;ShopContext&gt;().UseSqlite(connection).Options));
    /// await using var pool = await TestDatabasePool.CreateAsync(new SqliteEngine(), new TestDatabaseOptions { Schema = schema });
    /// </code>
    /// </example>
    public static SchemaSource FromDbContext<TContext>(Func<DbConnection, TContext> createContext)
        where TContext : DbContext
    {
        if (createContext is null)
        {
            throw new DeflakeConfigurationException(DbContextFactory.Setting,
                $"is null; pass a function that builds a {typeof(TContext).Name} on the connection it is given.");
        }

        return new EfCoreSchemaSource<TContext>(createContext);
    }
}
