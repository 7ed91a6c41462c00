namespace Deflake.Cli;

/// <summary>The exit codes of <c>deflake</c>; documented in docs/hunt.md.</summary>
internal static class ExitCodes
{
    /// <summary>Nothing flaky found (or the command succeeded).</summary>
    public const int Clean = 0;

    /// <summary>Findings: flaky tests (or, for <c>bisect</c>, polluters; for <c>doctor</c>, problems).</summary>
    public const int Findings = 1;

    /// <summary>Usage or input error: bad option, a path that is not a test project, a framework it cannot order.</summary>
    public const int UsageError = 2;

    /// <summary>Build or run error: the project did not build, or the test runner crashed or timed out.</summary>
    public const int RunError = 3;

    /// <summary>Cancelled (Ctrl+C).</summary>
    public const int Cancelled = 130;
}

/// <summary>An error that ends a command with a one-line message and an exit code.</summary>
internal sealed class CliException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The exit code to end with.</summary>
    public int ExitCode { get; } = exitCode;

    /// <summary>A usage or input error (exit code 2).</summary>
    public static CliException Usage(string message) => new(ExitCodes.UsageError, message);

    /// <summary>A build or run error (exit code 3).</summary>
    public static CliException Run(string message, Exception? inner = null) => new(ExitCodes.RunError, message, inner);
}
