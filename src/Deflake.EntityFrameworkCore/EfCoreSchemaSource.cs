using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Deflake.EntityFrameworkCore;

/// <summary>The migrations (or the model) of <typeparamref name="TContext"/> as a schema source.</summary>
internal sealed class EfCoreSchemaSource<TContext> : SchemaSource
    where TContext : DbContext
{
    private readonly Func<DbConnection, TContext> _createContext;

    public EfCoreSchemaSource(Func<DbConnection, TContext> createContext)
    {
        _createContext = createContext;
    }

    private static string ContextName => typeof(TContext).Name;

    public override string Name => $"efcore:{ContextName}";

    public override string LineageKey => $"efcore:{typeof(TContext).FullName}, {typeof(TContext).Assembly.GetName().Name}";

    public override ValueTask<string> ComputeFingerprintAsync(CancellationToken cancellationToken = default)
        => ValueTask.FromException<string>(new DeflakeConfigurationException("EfCoreSchema.FromDbContext",
            "its fingerprint is the SQL EF Core renders for the engine's provider, so it needs a SchemaContext; let a TestDatabasePool compute it, or call ComputeFingerprintAsync(new SchemaContext(kind, providerFactory))."));

    public override async ValueTask<string> ComputeFingerprintAsync(SchemaContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var provider = context.ProviderFactory ?? throw new DeflakeConfigurationException("EfCoreSchema.FromDbContext",
            $"the '{context.EngineKind}' engine gives no ADO.NET provider (IDatabaseEngine.ProviderFactory is null), and the fingerprint is the SQL EF Core renders for that provider; implement ProviderFactory in the engine, or use SqliteEngine, PostgresEngine or MariaDbEngine.");
        cancellationToken.ThrowIfCancellationRequested();

        // Never opened: there is no database yet. EF Core renders migration and create scripts without connecting.
        var connection = provider.CreateConnection() ?? throw new DeflakeConfigurationException("EfCoreSchema.FromDbContext",
            $"the '{context.EngineKind}' engine's provider {provider.GetType().Name} created no connection; the engine's ProviderFactory must create connections.");
        await using (connection.ConfigureAwait(false))
        {
            var dbContext = DbContextFactory.Create(_createContext, connection);
            await using (dbContext.ConfigureAwait(false))
            {
                return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Describe(dbContext))));
            }
        }
    }

    /// <summary>What decides the schema, as text: provider, migration ids in order, and the SQL EF Core would run.</summary>
    private static string Describe(TContext dbContext)
    {
        var text = new StringBuilder();
        try
        {
            text.Append("efcore\nprovider=").Append(dbContext.Database.ProviderName).Append('\n');
            var migrations = dbContext.Database.GetMigrations().ToList();
            if (migrations.Count > 0)
            {
                foreach (var id in migrations)
                {
                    text.Append("migration=").Append(id).Append('\n');
                }

                text.Append("script\n").Append(dbContext.GetService<IMigrator>().GenerateScript());
            }
            else
            {
                text.Append("create\n").Append(dbContext.Database.GenerateCreateScript());
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new TemplateBuildException($"rendering the SQL of {ContextName} (for its fingerprint)", ex);
        }

        // The same schema gives the same digest on Windows and Unix.
        return text.ToString().ReplaceLineEndings("\n");
    }

    public override async Task ApplyAsync(DbConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var dbContext = DbContextFactory.Create(_createContext, connection);
        await using (dbContext.ConfigureAwait(false))
        {
            var migrations = dbContext.Database.GetMigrations().ToList();
            using var failed = FailedCommandCapture.Start(dbContext);
            try
            {
                if (migrations.Count > 0)
                {
                    await dbContext.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await dbContext.Database.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (DbException ex)
            {
                var sql = failed.FailedSql; // before the history is read, which runs commands of its own
                throw new TemplateBuildException(await FailedStepAsync(dbContext, migrations, cancellationToken).ConfigureAwait(false), ex, file: null, sql);
            }
            catch (InvalidOperationException ex)
            {
                // EF Core's own refusals (pending model changes, a warning configured as an error): before any migration ran.
                throw new TemplateBuildException(migrations.Count > 0 ? $"migrating {ContextName}" : $"EnsureCreated of {ContextName}", ex);
            }
        }
    }

    /// <summary>Each migration runs in its own transaction, so the failed one is the first not in the history table.</summary>
    private static async Task<string> FailedStepAsync(TContext dbContext, List<string> migrations, CancellationToken cancellationToken)
    {
        if (migrations.Count == 0)
        {
            return $"EnsureCreated of {ContextName}";
        }

        try
        {
            var applied = (await dbContext.Database.GetAppliedMigrationsAsync(cancellationToken).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
            var failed = migrations.Find(id => !applied.Contains(id));
            if (failed is not null)
            {
                return $"migration '{failed}' of {ContextName}";
            }
        }
        catch (DbException)
        {
            // The history cannot be read either: name the context only.
        }

        return $"migrations of {ContextName}";
    }
}
