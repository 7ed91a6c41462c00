using Deflake.Testing;

namespace Deflake.Xunit.Tests.Gate;

public sealed class StartGateTests
{
    [Fact]
    public void The_settings_before_go_are_applied_and_an_empty_value_unsets()
    {
        var applied = new List<(string Name, string? Value)>();
        var input = new StringReader("DEFLAKE_ORDER=/tmp/work/order-0003.txt\nDEFLAKE_SEED=43\nDEFLAKE_CHAOS_TESTS=\ngo\nDEFLAKE_CHAOS=rows\n");

        var passed = StartGate.Read(input, (name, value) => applied.Add((name, value)));

        Assert.True(passed);
        Assert.Equal([("DEFLAKE_ORDER", "/tmp/work/order-0003.txt"), ("DEFLAKE_SEED", "43"), ("DEFLAKE_CHAOS_TESTS", null)], applied);
        // Nothing after 'go' is read: the line stays for whoever reads next.
        Assert.Equal("DEFLAKE_CHAOS=rows", input.ReadLine());
    }

    [Fact]
    public void Input_that_ends_before_go_means_the_deflake_process_is_gone()
    {
        var applied = new List<string>();

        var passed = StartGate.Read(new StringReader("DEFLAKE_SEED=43\n"), (name, _) => applied.Add(name));

        Assert.False(passed);
        Assert.Equal(["DEFLAKE_SEED"], applied);
    }

    [Theory]
    [InlineData("PATH=/usr/bin")]
    [InlineData("DEFLAKE_START_GATE=")]
    [InlineData("DEFLAKE SEED=1")]
    [InlineData("=1")]
    [InlineData("gone")]
    public void A_line_that_is_not_a_deflake_setting_is_a_configuration_error_naming_the_gate(string line)
    {
        var applied = new List<string>();

        var error = Assert.Throws<DeflakeConfigurationException>(() => StartGate.Read(new StringReader(line + "\ngo\n"), (name, _) => applied.Add(name)));

        Assert.Equal(DeflakeEnvironment.StartGate, error.Setting);
        Assert.Contains("expected DEFLAKE_NAME=value lines and then 'go'", error.Message, StringComparison.Ordinal);
        Assert.Empty(applied);
    }
}
