namespace Deflake.Postgres.Tests;

/// <summary>
/// The throwaway server's folder settings that cannot be used fail with one line naming the setting, the folder that
/// failed and the fix (issue 17). Folders below a regular file fail even for root, whom no permission bit stops.
/// </summary>
[Collection(nameof(ProcessEnvironment))]
public sealed class PostgresFolderSettingTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_unusable_DEFLAKE_POSTGRES_DATA_DIR_names_the_variable_the_folder_and_the_fix()
    {
        using var directory = new TempDirectory();
        var file = Path.Combine(directory.Path, "a-file");
        await File.WriteAllTextAsync(file, "not a folder", Token);
        var data = Path.Combine(file, "data");
        var before = Environment.GetEnvironmentVariable(DeflakeEnvironment.PostgresDataDirectory);
        DeflakeConfigurationException error;
        await using (var scope = new PrivateServer())
        {
            try
            {
                Environment.SetEnvironmentVariable(DeflakeEnvironment.PostgresDataDirectory, data);
                error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() => scope.StartAsync(new PostgresLocalServerOptions()));
            }
            finally
            {
                Environment.SetEnvironmentVariable(DeflakeEnvironment.PostgresDataDirectory, before);
            }
        }

        Assert.Equal(DeflakeEnvironment.PostgresDataDirectory, error.Setting);
        Assert.StartsWith($"DEFLAKE_POSTGRES_DATA_DIR: cannot create or write the folder '{data}/postgres-", error.Message, StringComparison.Ordinal);
        Assert.Contains($"('{file}' is a file, not a folder)", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("; point DEFLAKE_POSTGRES_DATA_DIR at a writable folder.", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task An_unusable_DEFLAKE_RUNTIME_DIR_names_the_variable_and_the_folder()
    {
        using var directory = new TempDirectory();
        var file = Path.Combine(directory.Path, "a-file");
        await File.WriteAllTextAsync(file, "not a folder", Token);
        var runtime = Path.Combine(file, "runtime");
        var before = Environment.GetEnvironmentVariable(DeflakeEnvironment.RuntimeDirectory);
        DeflakeConfigurationException error;
        try
        {
            Environment.SetEnvironmentVariable(DeflakeEnvironment.RuntimeDirectory, runtime);
            error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() => PostgresLocalServer.StartAsync(new PostgresLocalServerOptions(), Token));
        }
        finally
        {
            Environment.SetEnvironmentVariable(DeflakeEnvironment.RuntimeDirectory, before);
        }

        Assert.Equal(DeflakeEnvironment.RuntimeDirectory, error.Setting);
        Assert.Equal($"DEFLAKE_RUNTIME_DIR: cannot create or write the folder '{runtime}' ('{file}' is a file, not a folder); point DEFLAKE_RUNTIME_DIR at a writable folder.", error.Message);
    }

    [Fact]
    public async Task An_unusable_runtime_directory_option_names_the_option()
    {
        using var directory = new TempDirectory();
        var file = Path.Combine(directory.Path, "a-file");
        await File.WriteAllTextAsync(file, "not a folder", Token);

        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
            PostgresLocalServer.StartAsync(new PostgresLocalServerOptions { RuntimeDirectory = Path.Combine(file, "runtime") }, Token));

        Assert.Equal("PostgresLocalServerOptions.RuntimeDirectory", error.Setting);
        Assert.Contains($"'{Path.Combine(file, "runtime")}'", error.Message, StringComparison.Ordinal);
    }
}
