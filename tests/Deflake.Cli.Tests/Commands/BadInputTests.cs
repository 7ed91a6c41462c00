namespace Deflake.Cli.Tests.Commands;

public sealed class BadInputTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("deflake-cli-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static void AssertOneLineError(int expectedCode, (int Code, string Output, string Error) result, string mentions)
    {
        Assert.Equal(expectedCode, result.Code);
        var lines = result.Error.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("deflake: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(mentions, lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_path_that_does_not_exist_is_a_usage_error()
    {
        AssertOneLineError(ExitCodes.UsageError, await CommandLineTests.RunAsync("hunt", Path.Combine(_directory, "nope")), "does not exist");
    }

    [Fact]
    public async Task A_directory_without_a_project_is_not_a_test_project()
    {
        AssertOneLineError(ExitCodes.UsageError, await CommandLineTests.RunAsync("hunt", _directory), "not a test project");
    }

    [Fact]
    public async Task A_library_project_is_not_a_test_project()
    {
        AssertOneLineError(ExitCodes.UsageError, await CommandLineTests.RunAsync("hunt", Repository.Path("src/Deflake")), "not a test project");
    }

    [Theory]
    [InlineData("TUnit", "uses TUnit, which deflake cannot order yet")]
    [InlineData("Shouldly", "without a test framework deflake knows; deflake hunts xUnit v3, xUnit v2, NUnit and MSTest")]
    [InlineData("xunit;NUnit", "references xUnit v2 and NUnit")]
    public async Task A_test_framework_deflake_cannot_run_is_named_in_one_line(string packages, string mentions)
    {
        var project = Path.Combine(_directory, "Other.Tests.csproj");
        var references = string.Concat(packages.Split(';').Select(p => $"""<PackageReference Include="{p}" Version="1.0.0" />"""));
        await File.WriteAllTextAsync(project, $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><TargetFramework>net10.0</TargetFramework><IsTestProject>true</IsTestProject></PropertyGroup>
              <ItemGroup>{references}</ItemGroup>
            </Project>
            """, TestContext.Current.CancellationToken);

        AssertOneLineError(ExitCodes.UsageError, await CommandLineTests.RunAsync("hunt", project), mentions);
    }

    [Fact]
    public async Task An_assembly_without_the_deflake_orderer_is_refused()
    {
        // This test assembly is xUnit v3 and does not register Deflake's orderers.
        var assembly = typeof(BadInputTests).Assembly.Location;

        AssertOneLineError(ExitCodes.UsageError, await CommandLineTests.RunAsync("bisect", "--victim", "A.B", assembly), "[assembly: Deflake.Xunit.Ordering.DeflakeOrder]");
    }

    [Fact]
    public async Task An_assembly_of_no_test_framework_is_refused()
    {
        var assembly = typeof(DeflakeEnvironment).Assembly.Location;

        AssertOneLineError(ExitCodes.UsageError, await CommandLineTests.RunAsync("bisect", "--victim", "A.B", assembly), "references no test framework deflake knows");
    }

    [Fact]
    public async Task A_project_that_does_not_build_is_a_build_error()
    {
        var project = Path.Combine(_directory, "Broken.Tests.csproj");
        await File.WriteAllTextAsync(project, """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><TargetFramework>net10.0</TargetFramework><OutputType>Exe</OutputType><IsTestProject>true</IsTestProject></PropertyGroup>
              <ItemGroup><PackageReference Include="xunit.v3" Version="3.2.2" /></ItemGroup>
            </Project>
            """, TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(Path.Combine(_directory, "Broken.cs"), "public class Broken { this is not C# }", TestContext.Current.CancellationToken);

        AssertOneLineError(ExitCodes.RunError, await CommandLineTests.RunAsync("hunt", project), "does not build");
    }
}
