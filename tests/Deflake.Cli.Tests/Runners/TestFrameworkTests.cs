using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Runners;

public sealed class TestFrameworkTests
{
    [Theory]
    [InlineData("xunit.v3;xunit.runner.visualstudio;Microsoft.NET.Test.Sdk", "XunitV3")]
    [InlineData("xunit.v3.mtp-v2", "XunitV3")]
    [InlineData("Deflake.Xunit;xunit.v3.core", "XunitV3")]
    [InlineData("xunit;xunit.runner.visualstudio;Microsoft.NET.Test.Sdk", "XunitV2")]
    [InlineData("xunit.core;xunit.assert", "XunitV2")]
    [InlineData("NUnit;NUnit3TestAdapter;NUnit.Analyzers", "NUnit")]
    [InlineData("nunit", "NUnit")]
    [InlineData("MSTest", "MSTest")]
    [InlineData("MSTest.TestAdapter;MSTest.TestFramework", "MSTest")]
    public void The_framework_is_read_from_the_package_references(string packages, string expected)
        => Assert.Equal(Enum.Parse<TestFramework>(expected), TestFrameworks.FromPackages(packages.Split(';'), "X.Tests.csproj"));

    [Theory]
    [InlineData("xunit.runner.visualstudio;Microsoft.NET.Test.Sdk")]
    [InlineData("NUnit3TestAdapter")]
    [InlineData("MSTest.Analyzers;Shouldly")]
    [InlineData("")]
    public void Adapters_and_helpers_alone_name_no_framework(string packages)
        => Assert.Null(TestFrameworks.FromPackages(packages.Split(';', StringSplitOptions.RemoveEmptyEntries), "X.Tests.csproj"));

    [Fact]
    public void Two_frameworks_in_one_project_are_refused_naming_both()
    {
        var error = Assert.Throws<CliException>(() => TestFrameworks.FromPackages(["NUnit", "MSTest"], "X.Tests.csproj"));
        Assert.Equal(ExitCodes.UsageError, error.ExitCode);
        Assert.Contains("X.Tests.csproj references NUnit and MSTest", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_built_assembly_names_its_framework_through_its_references()
    {
        Assert.Equal(TestFramework.XunitV3, TestFrameworks.FromAssembly(typeof(TestFrameworkTests).Assembly.Location));
        Assert.Null(TestFrameworks.FromAssembly(typeof(DeflakeEnvironment).Assembly.Location));
    }

    [Theory]
    [InlineData("NUnit", "<EnableNUnitRunner>true</EnableNUnitRunner>")]
    [InlineData("MSTest", "<EnableMSTestRunner>true</EnableMSTestRunner>")]
    public void An_assembly_that_is_not_a_testing_platform_program_is_refused_with_the_property_to_set(string framework, string property)
    {
        var error = Assert.Throws<CliException>(() => TestFrameworks.CheckRunnable(Enum.Parse<TestFramework>(framework), typeof(DeflakeEnvironment).Assembly.Location));
        Assert.Contains(property, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }
}
