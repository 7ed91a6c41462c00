using System.CommandLine;
using Deflake.MariaDb;
using Deflake.Postgres;
using Deflake.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;

namespace Deflake.Cli.Commands;

/// <summary>Settings of <c>deflake gc</c>.</summary>
/// <param name="KeptDays">Kept databases of failed tests older than this many days are removed too.</param>
internal sealed record GcSettings(int KeptDays);

/// <summary><c>deflake gc</c>: removes databases and files that crashed Deflake processes left behind.</summary>
internal sealed class GcCommand(CommandContext context)
{
    private static readonly Option<int> KeptDaysOption = new("--kept-days")
    {
        Description = "Also remove kept databases of failed tests older than this many days.",
        DefaultValueFactory = _ => 7,
        CustomParser = result => CommonOptions.WholeNumber(result, "7"),
    };

    /// <summary>The command line definition.</summary>
    public static Command Create(CommandContext context)
    {
        var command = new Command("gc", "Remove orphaned Deflake databases and files: clones of processes that are gone (SQLite; PostgreSQL and MariaDB on DEFLAKE_POSTGRES, DEFLAKE_MARIADB and the throwaway servers when running), old kept databases, stale template builds, work folders of hunts killed outright.")
        {
            KeptDaysOption,
        };
        command.SetAction((parse, cancellationToken) => new GcCommand(context).ExecuteAsync(new GcSettings(parse.GetValue(KeptDaysOption)), cancellationToken));
        return command;
    }

    /// <summary>Collects.</summary>
    public async Task<int> ExecuteAsync(GcSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.KeptDays < 0)
        {
            throw CliException.Usage("--kept-days must not be negative.");
        }

        var engine = new SqliteEngine();
        await using (engine.ConfigureAwait(false))
        {
            await engine.StartAsync(new EngineContext(NullLogger.Instance, TimeProvider.System, ChaosModes.None, 0), cancellationToken).ConfigureAwait(false);
            var removed = await engine.RemoveOrphansAsync(TimeSpan.FromDays(settings.KeptDays), cancellationToken).ConfigureAwait(false);
            context.Console.MarkupLine($"sqlite: removed {removed} orphaned database(s) under {Markup.Escape(Path.Combine(DeflakeEnvironment.GetCacheDirectory(), "sqlite"))}");
        }

        var work = CommonOptions.RemoveAbandonedWorkDirectories();
        context.Console.MarkupLine($"deflake: removed {work} work folder(s) of hunts whose process is gone, under {Markup.Escape(Path.GetTempPath())}");

        // Servers: every one an engine reaches without starting one (the throwaway servers only when they run).
        var servers = new List<OrphanServer>();
        servers.AddRange(await PostgresOrphanServers.FindAsync(cancellationToken: cancellationToken).ConfigureAwait(false));
        servers.AddRange(await MariaDbOrphanServers.FindAsync(cancellationToken: cancellationToken).ConfigureAwait(false));
        var outcomes = await OrphanCollector.CollectAsync(servers, TimeSpan.FromDays(settings.KeptDays), cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var outcome in outcomes)
        {
            context.Console.MarkupLine(Markup.Escape(outcome.Removed is { } count
                ? $"{outcome.Engine}: removed {count} orphaned database(s) on {outcome.Where}"
                : $"{outcome.Engine}: did not reach {outcome.Where}: {outcome.Problem}"));
        }

        return ExitCodes.Clean;
    }
}
