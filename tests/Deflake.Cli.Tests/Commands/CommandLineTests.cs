namespace Deflake.Cli.Tests.Commands;

public sealed class CommandLineTests
{
    internal static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await DeflakeApp.RunAsync(args, output, error, cancellationToken: TestContext.Current.CancellationToken);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void A_command_stopped_by_a_signal_has_time_to_clean_up_not_only_the_default_two_seconds()
    {
        // Past this, System.CommandLine stops waiting and the process ends with test processes and files left behind.
        var invocation = DeflakeApp.Invocation(TextWriter.Null, TextWriter.Null);

        Assert.NotNull(invocation.ProcessTerminationTimeout); // null: SIGINT/SIGTERM would end deflake at once, no clean-up
        Assert.True(invocation.ProcessTerminationTimeout >= TimeSpan.FromSeconds(10), $"{invocation.ProcessTerminationTimeout}");
        Assert.False(invocation.EnableDefaultExceptionHandler); // errors become one 'deflake: ' line, not a stack trace
    }

    [Fact]
    public async Task Help_lists_every_command()
    {
        var (code, output, _) = await RunAsync("--help");

        Assert.Equal(0, code);
        foreach (var command in new[] { "hunt", "bisect", "gc", "doctor" })
        {
            Assert.Contains($"  {command}", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Hunt_help_documents_its_options_and_the_causes()
    {
        var (code, output, _) = await RunAsync("hunt", "--help");

        Assert.Equal(0, code);
        foreach (var option in new[] { "<PROJECT>", "--runs", "--modes", "--seed", "--json", "--html", "--timeout" })
        {
            Assert.Contains(option, output, StringComparison.Ordinal);
        }

        foreach (var cause in Deflake.Cli.Hunting.FlakeCause.All)
        {
            Assert.Contains(cause, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Bisect_help_documents_the_victim()
    {
        var (code, output, _) = await RunAsync("bisect", "--help");

        Assert.Equal(0, code);
        Assert.Contains("--victim", output, StringComparison.Ordinal);
        Assert.Contains("<PROJECT>", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hunt", "--bogus")]
    [InlineData("hunt", "--runs", "many")]
    [InlineData("hunt", "--runs", "-1")]
    [InlineData("bisect")]
    [InlineData("fly")]
    public async Task Bad_usage_exits_with_2(params string[] args)
    {
        var (code, _, error) = await RunAsync(args);

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.StartsWith("deflake: ", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hunt --seed abc", "deflake: --seed: 'abc' is not a whole number; give one such as 42.")]
    [InlineData("hunt --seed 99999999999", "deflake: --seed: 99999999999 is out of range; give a whole number from -2147483648 to 2147483647, such as 42.")]
    [InlineData("hunt --runs many", "deflake: --runs: 'many' is not a whole number; give one such as 5.")]
    [InlineData("bisect --victim A.B --timeout 1.5", "deflake: --timeout: '1.5' is not a whole number; give one such as 10.")]
    [InlineData("gc --kept-days a-week", "deflake: --kept-days: 'a-week' is not a whole number; give one such as 7.")]
    [InlineData("hunt --timeout 0", "deflake: --timeout: 0 minutes would stop every run at once; give 1 or more (the default is 10).")]
    public async Task A_number_option_given_something_else_names_the_option_and_the_value_not_a_dotnet_type(string args, string expected)
    {
        var (code, _, error) = await RunAsync(args.Split(' '));

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.Equal(expected, error.Split(Environment.NewLine)[0]);
        Assert.DoesNotContain("System.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_command_is_one_line_that_says_so_and_lists_the_commands()
    {
        var (code, output, error) = await RunAsync("frobnicate");

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.Equal("", output);
        Assert.Equal(
            "deflake: unknown command 'frobnicate'; the commands are hunt, bisect, gc, doctor (run 'deflake --help' for usage)." + Environment.NewLine,
            error);
    }

    [Fact]
    public async Task No_command_is_one_line_that_lists_the_commands()
    {
        var (code, _, error) = await RunAsync();

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.DoesNotContain("Required command", error, StringComparison.Ordinal);
        Assert.Single(error.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("the commands are hunt, bisect, gc, doctor", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_option_of_a_known_command_is_not_called_an_unknown_command()
    {
        var (code, _, error) = await RunAsync("gc", "--bogus");

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.DoesNotContain("unknown command", error, StringComparison.Ordinal);
        Assert.Contains("--bogus", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_chaos_mode_is_a_one_line_usage_error()
    {
        var (code, _, error) = await RunAsync("hunt", "--modes", "gremlins", Repository.Path("samples/Shop.FlakyTests"));

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("gremlins", error, StringComparison.Ordinal);
    }
}
