namespace Deflake.Tests.Leases;

/// <summary>The env var is process-wide: these tests run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(RuntimeDirectoryVariable), DisableParallelization = true)]
public sealed class RuntimeDirectoryVariable;

/// <summary>A lease folder that cannot be made: one line naming the setting, the folder and the fix (issue 17).</summary>
[Collection(nameof(RuntimeDirectoryVariable))]
public sealed class LeaseFolderSettingTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    /// <summary>A folder below a regular file: fails even for root, whom no permission bit stops.</summary>
    private string Unmakeable()
    {
        var file = Path.Combine(_directory.Path, "a-file");
        File.WriteAllText(file, "not a folder");
        return Path.Combine(file, "runtime");
    }

    [Fact]
    public void An_unusable_DEFLAKE_RUNTIME_DIR_with_local_leases_names_the_variable_the_folder_and_the_fix()
    {
        var runtime = Unmakeable();
        var before = System.Environment.GetEnvironmentVariable(DeflakeEnvironment.RuntimeDirectory);
        try
        {
            System.Environment.SetEnvironmentVariable(DeflakeEnvironment.RuntimeDirectory, runtime);

            var error = Assert.Throws<DeflakeConfigurationException>(() => Deflake.Leases.Local());

            Assert.Equal(DeflakeEnvironment.RuntimeDirectory, error.Setting);
            Assert.StartsWith("DEFLAKE_RUNTIME_DIR: cannot create or write the folder '" + Path.Combine(runtime, "leases") + "' (", error.Message, StringComparison.Ordinal);
            Assert.Contains($"'{Path.GetDirectoryName(runtime)}' is a file, not a folder", error.Message, StringComparison.Ordinal);
            Assert.EndsWith("; point DEFLAKE_RUNTIME_DIR at a writable folder.", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(".;", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error.Message);
        }
        finally
        {
            System.Environment.SetEnvironmentVariable(DeflakeEnvironment.RuntimeDirectory, before);
        }
    }

    [Fact]
    public void An_unusable_lease_directory_option_names_the_option()
    {
        var folder = Unmakeable();

        var error = Assert.Throws<DeflakeConfigurationException>(() => Deflake.Leases.Local(new LeaseOptions { Directory = folder }));

        Assert.Equal("LeaseOptions.Directory", error.Setting);
        Assert.Contains($"'{folder}'", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("; point LeaseOptions.Directory at a writable folder.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_permission_error_reads_as_one_sentence_without_a_period_before_the_fix()
    {
        var error = Deflake.Internal.SettingFolders.Error(DeflakeEnvironment.CacheDirectory, "/cache/deflake/sqlite",
            new UnauthorizedAccessException("Access to the path '/cache/deflake/sqlite' is denied."));

        Assert.Equal(
            "DEFLAKE_CACHE_DIR: cannot create or write the folder '/cache/deflake/sqlite' (Access to the path '/cache/deflake/sqlite' is denied); point DEFLAKE_CACHE_DIR at a writable folder.",
            error.Message);
    }
}
