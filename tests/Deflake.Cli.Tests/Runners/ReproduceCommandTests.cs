using Deflake.Cli.Running;

namespace Deflake.Cli.Tests.Runners;

/// <summary>The printed commands of the xUnit v2, NUnit and MSTest runners (replayed for real in EndToEnd).</summary>
public sealed class ReproduceCommandTests
{
    private static readonly RunRequest Pair = new("pair", RunOrderKind.List, "identities", 7, Parallel: false, ["Ns.A.First", "Ns.B.Second"])
    {
        TestChaos = new Dictionary<string, string> { ["Ns.B.Second"] = "rows" },
    };

    [Fact]
    public void An_nunit_command_names_the_assembly_absolutely_writes_its_files_in_the_shell_folder_and_filters_exactly_its_tests()
    {
        var runner = new TestingPlatformRunner(TestFramework.NUnit, "bin/Tests.dll", "work", TimeSpan.FromMinutes(1));

        var command = runner.ReproduceCommand(Pair);

        Assert.Equal(
            "printf '%s\\t%s\\n' rows Ns.B.Second > deflake-chaos.txt && printf '%s\\n' Ns.A.First Ns.B.Second > deflake-order.txt && "
            + "printf '%s\\n' '<RunSettings><NUnit><NumberOfTestWorkers>0</NumberOfTestWorkers></NUnit></RunSettings>' > deflake.runsettings && "
            + "DEFLAKE_CHAOS=identities DEFLAKE_SEED=7 DEFLAKE_CHAOS_TESTS=\"$PWD/deflake-chaos.txt\" DEFLAKE_ORDER=\"$PWD/deflake-order.txt\" "
            + $"dotnet {Path.GetFullPath("bin/Tests.dll")} --settings \"$PWD/deflake.runsettings\" --filter 'FullyQualifiedName=Ns.A.First|FullyQualifiedName=Ns.B.Second'",
            command);
    }

    [Fact]
    public void A_parallel_mstest_command_keeps_the_suites_own_parallelism_and_a_whole_suite_run_has_no_filter()
    {
        var runner = new TestingPlatformRunner(TestFramework.MSTest, "/abs/Tests.dll", "work", TimeSpan.FromMinutes(1));

        Assert.Equal("DEFLAKE_SEED=3 DEFLAKE_ORDER=random dotnet /abs/Tests.dll",
            runner.ReproduceCommand(new RunRequest("random #1", RunOrderKind.Random, "none", 3, Parallel: true)));
        Assert.Contains("<MSTest><Parallelize><Workers>1</Workers></Parallelize></MSTest>",
            runner.ReproduceCommand(new RunRequest("baseline", RunOrderKind.Default, "none", 3, Parallel: false)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_one_at_a_time_mstest_list_command_hands_mstest_its_order_as_a_dependency_chain()
    {
        var runner = new TestingPlatformRunner(TestFramework.MSTest, "/abs/Tests.dll", "work", TimeSpan.FromMinutes(1));

        var command = runner.ReproduceCommand(new RunRequest("pair", RunOrderKind.List, "none", 7, Parallel: false, ["Ns.B.Second", "Ns.A.First"]));

        var chain = """{"mstest":{"execution":{"dependencies":{"nodes":[{"test":"Ns.A.First","dependsOn":["Ns.B.Second"],"proceedOnFailure":true}]}}}}""";
        Assert.Contains($"printf '%s\\n' '{chain}' > deflake.testconfig.json && ", command, StringComparison.Ordinal);
        Assert.EndsWith("dotnet /abs/Tests.dll --config-file \"$PWD/deflake.testconfig.json\" --filter 'FullyQualifiedName=Ns.B.Second|FullyQualifiedName=Ns.A.First'", command, StringComparison.Ordinal);
        Assert.DoesNotContain("runsettings", command, StringComparison.Ordinal);
    }

    [Fact]
    public void An_xunit_v2_command_runs_the_console_runner_deflake_carries_with_a_method_filter_per_test()
    {
        var runner = new Xunit2Runner("/abs/Tests.dll", "work", TimeSpan.FromMinutes(1), consolePath: "/opt/deflake/xunit2/xunit.console.dll");

        var command = runner.ReproduceCommand(Pair with { Parallel = true });

        Assert.EndsWith(
            "dotnet /opt/deflake/xunit2/xunit.console.dll /abs/Tests.dll -nologo -nocolor -noautoreporters -parallel collections -maxthreads unlimited -method Ns.A.First -method Ns.B.Second",
            command, StringComparison.Ordinal);
        Assert.StartsWith("printf '%s\\t%s\\n' rows Ns.B.Second > deflake-chaos.txt && printf '%s\\n' Ns.A.First Ns.B.Second > deflake-order.txt && ", command, StringComparison.Ordinal);
    }

    [Fact]
    public void The_console_runner_is_copied_beside_deflake()
        => Assert.True(File.Exists(new Xunit2Runner("/abs/Tests.dll", "work", TimeSpan.FromMinutes(1)).ConsolePath));
}
