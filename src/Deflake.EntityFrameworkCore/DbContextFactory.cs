using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace Deflake.EntityFrameworkCore;

/// <summary>Calls a user's context factory and turns every way it can go wrong into one line naming the setting.</summary>
internal static class DbContextFactory
{
    public const string Setting = "EfCoreSchema.FromDbContext factory";

    public static TContext Create<TContext>(Func<DbConnection, TContext> createContext, DbConnection connection, string setting = Setting)
        where TContext : DbContext
    {
        var name = typeof(TContext).Name;
        var how = $"it must return a new {name} built on the connection it is given, e.g. new {name}(new DbContextOptionsBuilder<{name}>().UseSqlite(connection).Options)";
        TContext? context;
        try
        {
            context = createContext(connection);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new DeflakeConfigurationException(setting, $"threw {ex.GetType().Name}: {FirstLine(ex.Message)}; {how}.", ex);
        }

        if (context is null)
        {
            throw new DeflakeConfigurationException(setting, $"returned null; {how}.");
        }

        try
        {
            if (!context.Database.IsRelational())
            {
                throw new DeflakeConfigurationException(setting,
                    $"built a {name} on {context.Database.ProviderName}, which is not a relational provider; {how}.");
            }

            if (!ReferenceEquals(context.Database.GetDbConnection(), connection))
            {
                throw new DeflakeConfigurationException(setting,
                    $"built a {name} on a connection of its own (a connection string?), so Deflake would migrate or query another database; {how}.");
            }
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or DeflakeConfigurationException))
        {
            context.Dispose();
            throw new DeflakeConfigurationException(setting, $"built a {name} EF Core cannot use: {FirstLine(ex.Message)}; {how}.", ex);
        }
        catch
        {
            context.Dispose();
            throw;
        }

        return context;
    }

    public static string FirstLine(string text)
    {
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        return end < 0 ? text : text[..end].TrimEnd('\r');
    }
}
