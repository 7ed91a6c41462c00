using Deflake.Cli;

// Not disposed: a Ctrl+C that arrives while the process ends must still find it (System.CommandLine handles the
// signal too, and may let the command finish before this handler runs).
var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

return await DeflakeApp.RunAsync(args, Console.Out, Console.Error, interactive: !Console.IsOutputRedirected, cancellationToken: cancellation.Token).ConfigureAwait(false);
