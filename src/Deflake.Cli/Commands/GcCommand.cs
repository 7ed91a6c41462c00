using System.CommandLine;
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
    };

    /// <summary>The command line definition.</summary>
    public static Command Create(CommandContext context)
    {
        var command = new Command("gc", "Remove orphaned Deflake databases and files: SQLite clones of processes that are gone, old kept databases, stale template builds, work folders of hunts killed outright.")
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

        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(DeflakeEnvironment.Postgres)))
        {
            context.Console.MarkupLine("postgres: orphan collection runs when a pool starts (RemoveOrphansOnStart); this command does not reach the server yet.");
        }

        return ExitCodes.Clean;
    }
}
