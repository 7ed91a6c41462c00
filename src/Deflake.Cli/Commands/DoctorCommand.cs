using System.CommandLine;
using Deflake.Cli.Running;
using Spectre.Console;

namespace Deflake.Cli.Commands;

/// <summary><c>deflake doctor</c>: reports what is installed and where Deflake keeps its files.</summary>
internal sealed class DoctorCommand(CommandContext context)
{
    /// <summary>The command line definition.</summary>
    public static Command Create(CommandContext context)
    {
        var command = new Command("doctor", "Report what Deflake can use here: dotnet, PostgreSQL and MariaDB binaries, cache and runtime directories, DEFLAKE_* settings.");
        command.SetAction((_, cancellationToken) => new DoctorCommand(context).ExecuteAsync(cancellationToken));
        return command;
    }

    /// <summary>Reports.</summary>
    public async Task<int> ExecuteAsync(CancellationToken cancellationToken = default)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("what").AddColumn("status");
        var problems = 0;

        string dotnet;
        try
        {
            var version = await ProcessRunner.RunAsync("dotnet", ["--version"], timeout: TimeSpan.FromSeconds(30), cancellationToken: cancellationToken).ConfigureAwait(false);
            dotnet = version.ExitCode == 0 ? $"[green]{Markup.Escape(version.Output.Trim())}[/]" : "[red]not working[/]";
        }
        catch (CliException)
        {
            dotnet = "[red]not found[/]";
            problems++;
        }

        table.AddRow("dotnet SDK", dotnet);
        table.AddRow("PostgreSQL (initdb, pg_ctl)", Found(FindBinary("pg_ctl", PostgresDirectories())));
        table.AddRow("MariaDB (mariadbd)", Found(FindBinary("mariadbd", ["/usr/sbin"]) ?? FindBinary("mysqld", ["/usr/sbin"])));
        table.AddRow("cache directory", Directory(DeflakeEnvironment.GetCacheDirectory()));
        table.AddRow("runtime directory", Directory(DeflakeEnvironment.GetRuntimeDirectory()));
        foreach (var name in new[] { DeflakeEnvironment.Chaos, DeflakeEnvironment.Seed, DeflakeEnvironment.Order, DeflakeEnvironment.KeepFailed, DeflakeEnvironment.Postgres, DeflakeEnvironment.MariaDb })
        {
            var value = Environment.GetEnvironmentVariable(name);
            table.AddRow(name, value is null ? "[grey]unset[/]" : Markup.Escape(name is DeflakeEnvironment.Postgres or DeflakeEnvironment.MariaDb ? "set (not shown)" : value));
        }

        context.Console.Write(table);
        if (Environment.UserName == "root")
        {
            context.Console.MarkupLine("[yellow]running as root:[/] PostgreSQL's tools refuse root; Deflake runs them as another user when it can.");
        }

        return problems == 0 ? ExitCodes.Clean : ExitCodes.Findings;
    }

    private static IEnumerable<string> PostgresDirectories()
    {
        const string root = "/usr/lib/postgresql";
        return System.IO.Directory.Exists(root)
            ? System.IO.Directory.GetDirectories(root).OrderDescending(StringComparer.Ordinal).Select(d => Path.Combine(d, "bin"))
            : [];
    }

    private static string? FindBinary(string name, IEnumerable<string> extra)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Concat(extra)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);
    }

    private static string Found(string? path) => path is null ? "[grey]not found[/]" : $"[green]{Markup.Escape(path)}[/]";

    private static string Directory(string path)
    {
        if (!System.IO.Directory.Exists(path))
        {
            return $"{Markup.Escape(path)} [grey](not created yet)[/]";
        }

        long bytes = 0;
        foreach (var file in System.IO.Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
        {
            try
            {
                bytes += new FileInfo(file).Length;
            }
            catch (IOException)
            {
            }
        }

        return $"{Markup.Escape(path)} [grey]({bytes / 1024.0 / 1024.0:0.0} MB)[/]";
    }
}
