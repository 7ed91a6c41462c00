namespace Deflake.Postgres.Tests;

/// <summary>Every wrong setting fails at once with one line that names the setting and says how to fix it.</summary>
public sealed class BadInputTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public void A_malformed_connection_string_names_the_option_and_never_shows_the_password()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() =>
            new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = "Host=localhost;Password=hunter2-secret;Hots=typo" }));

        Assert.Equal("PostgresEngineOptions.AdminConnectionString", error.Setting);
        AssertOneLine(error.Message);
        Assert.Contains("not a valid PostgreSQL connection string", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_DEFLAKE_POSTGRES_names_the_variable()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => PostgresEngineOptions.ParseConnectionString("Host=x;Port=not-a-number", DeflakeEnvironment.Postgres));

        Assert.Equal("DEFLAKE_POSTGRES", error.Setting);
        AssertOneLine(error.Message);
    }

    [Fact]
    public async Task An_unreachable_server_names_the_option_and_where_it_tried_without_the_password()
    {
        var engine = new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = "Host=127.0.0.1;Port=1;Username=someone;Password=hunter2-secret;Timeout=5" });

        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
            TestDatabasePool.CreateAsync(engine, TestSchemas.Options(TestSchemas.Fresh()), Token));

        Assert.Equal("PostgresEngineOptions.AdminConnectionString", error.Setting);
        AssertOneLine(error.Message);
        Assert.Contains("cannot connect to PostgreSQL at 127.0.0.1:1 as 'someone'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_admin_database_is_a_configuration_error_with_the_servers_code()
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(await PostgresTestServer.GetAdminConnectionStringAsync(Token)) { Database = "no_such_database_" + Guid.NewGuid().ToString("N")[..8] };
        var engine = new PostgresEngine(new PostgresEngineOptions { AdminConnectionString = builder.ConnectionString });

        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
            TestDatabasePool.CreateAsync(engine, TestSchemas.Options(TestSchemas.Fresh()), Token));

        AssertOneLine(error.Message);
        Assert.Contains("3D000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_migration_with_a_syntax_error_names_the_file_and_the_database_error_and_leaves_nothing_behind()
    {
        using var directory = new TempDirectory();
        File.WriteAllText(Path.Combine(directory.Path, "001_items.sql"), $"create table items (id int primary key); -- {Guid.NewGuid()}");
        File.WriteAllText(Path.Combine(directory.Path, "002_broken.sql"), "create tabel oops (id int);");

        var error = await Assert.ThrowsAsync<TemplateBuildException>(async () =>
            await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(SchemaSource.FromSqlDirectory(directory.Path)), Token));

        AssertOneLine(error.Message);
        Assert.Contains("002_broken.sql", error.Message, StringComparison.Ordinal);
        Assert.Contains("syntax error at or near \"tabel\"", error.Message, StringComparison.Ordinal);
        var fingerprint = await BuildFingerprintPrefixAsync(directory.Path);
        Assert.Empty(await PostgresTestServer.DatabaseNamesAsync($"deflake_bld_{fingerprint}", Token));
        Assert.Empty(await PostgresTestServer.DatabaseNamesAsync($"deflake_tpl_{fingerprint}", Token));

        // Fixed, the next run builds the template.
        File.WriteAllText(Path.Combine(directory.Path, "002_broken.sql"), "create table fixed (id int);");
        await using var pool = await PostgresTestServer.CreatePoolAsync(TestSchemas.Options(SchemaSource.FromSqlDirectory(directory.Path)), Token);
        Assert.True(pool.Template.WasBuilt);
    }

    [Fact]
    public void A_missing_migrations_directory_names_the_setting()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => SchemaSource.FromSqlDirectory("/no/such/migrations"));

        Assert.Equal("SchemaSource.FromSqlDirectory", error.Setting);
        AssertOneLine(error.Message);
        Assert.Contains("/no/such/migrations", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_PostgreSQL_binaries_says_where_it_looked_and_how_to_fix_it()
    {
        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() => PostgresLocalServer.FindBinariesAsync(null,
            new PostgresLocalServer.BinarySearch("/no/such/bin", [("/no/such/postgresql", "*")]), Token));

        Assert.Equal("DEFLAKE_POSTGRES", error.Setting);
        AssertOneLine(error.Message);
        Assert.Contains("no PostgreSQL binaries found (looked in: pg_config --bindir, PATH, /no/such/postgresql/*/bin)", error.Message, StringComparison.Ordinal);
        Assert.Contains("install PostgreSQL", error.Message, StringComparison.Ordinal);
        Assert.Contains("set DEFLAKE_POSTGRES", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bin_directory_without_PostgreSQL_names_the_option()
    {
        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
            PostgresLocalServer.StartAsync(new PostgresLocalServerOptions { BinDirectory = "/tmp" }, Token));

        Assert.Equal("PostgresLocalServerOptions.BinDirectory", error.Setting);
        AssertOneLine(error.Message);
    }

    [Fact]
    public async Task Running_as_root_without_the_unprivileged_user_says_exactly_what_to_do()
    {
        Assert.SkipUnless(Environment.IsPrivilegedProcess, "only root needs an unprivileged user to run PostgreSQL");
        using var directory = new TempDirectory();

        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() => PostgresLocalServer.StartAsync(
            new PostgresLocalServerOptions { RootRunAsUser = "no_such_user_deflake", RuntimeDirectory = directory.Path }, Token));

        Assert.Equal("PostgresLocalServerOptions.RootRunAsUser", error.Setting);
        AssertOneLine(error.Message);
        Assert.Contains("useradd --system --user-group no_such_user_deflake", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CloneRetryTimeout")]
    [InlineData("TemplateWaitTimeout")]
    [InlineData("DropTemplatesUnusedFor")]
    [InlineData("KeepSupersededTemplates")]
    public void Invalid_engine_options_name_the_option(string option)
    {
        var options = new PostgresEngineOptions { AdminConnectionString = "Host=localhost" };
        switch (option)
        {
            case "CloneRetryTimeout": options.CloneRetryTimeout = TimeSpan.FromSeconds(-1); break;
            case "TemplateWaitTimeout": options.TemplateWaitTimeout = TimeSpan.Zero; break;
            case "KeepSupersededTemplates": options.KeepSupersededTemplates = -1; break;
            default: options.DropTemplatesUnusedFor = TimeSpan.Zero; break;
        }

        var error = Assert.Throws<DeflakeConfigurationException>(() => new PostgresEngine(options));

        Assert.Equal($"PostgresEngineOptions.{option}", error.Setting);
        AssertOneLine(error.Message);
    }

    [Fact]
    public async Task Invalid_local_server_options_name_the_option()
    {
        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
            PostgresLocalServer.StartAsync(new PostgresLocalServerOptions { MaxConnections = 1 }, Token));

        Assert.Equal("PostgresLocalServerOptions.MaxConnections", error.Setting);
    }

    private static async Task<string> BuildFingerprintPrefixAsync(string directory)
    {
        await using var engine = await PostgresTestServer.CreateEngineAsync();
        var version = await engine.StartAsync(PostgresEngineTests.NewContext(), Token);
        var digest = await SchemaSource.FromSqlDirectory(directory).ComputeFingerprintAsync(Token);
        return Fingerprint.Compute($"postgres@{TemplateCodeIdentity.Of(engine)}", version, digest, "none");
    }

    private static void AssertOneLine(string message)
    {
        Assert.DoesNotContain('\n', message);
        Assert.False(string.IsNullOrWhiteSpace(message));
    }
}
