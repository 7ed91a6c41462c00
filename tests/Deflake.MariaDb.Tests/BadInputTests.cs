namespace Deflake.MariaDb.Tests;

/// <summary>Every wrong setting fails at once with one line that names the setting and says how to fix it.</summary>
public sealed class BadInputTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public void A_malformed_connection_string_names_the_option_and_never_shows_the_password()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() =>
            new MariaDbEngine(new MariaDbEngineOptions { AdminConnectionString = "Server=localhost;Password=hunter2-secret;Sevrer=typo" }));

        Assert.Equal("MariaDbEngineOptions.AdminConnectionString", error.Setting);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("not a valid MariaDB/MySQL connection string", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_KeepSupersededTemplates_names_the_option_in_one_line()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() =>
            new MariaDbEngine(new MariaDbEngineOptions { AdminConnectionString = "Server=localhost;User ID=root", KeepSupersededTemplates = -1 }));

        Assert.Equal("MariaDbEngineOptions.KeepSupersededTemplates", error.Setting);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("use 0 or more", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_DEFLAKE_MARIADB_names_the_variable()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => MariaDbEngineOptions.ParseConnectionString("Server=x;Port=not-a-number;User ID=u", DeflakeEnvironment.MariaDb));

        Assert.Equal("DEFLAKE_MARIADB", error.Setting);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task An_unreachable_server_names_where_it_tried_without_the_password()
    {
        var engine = new MariaDbEngine(new MariaDbEngineOptions { AdminConnectionString = "Server=127.0.0.1;Port=1;User ID=someone;Password=hunter2-secret;SslMode=None;Connection Timeout=5" });

        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
            TestDatabasePool.CreateAsync(engine, MariaDbEngineTests.Options(MariaDbEngineTests.Sql("CREATE TABLE t (id INT)")), Token));

        Assert.Equal("MariaDbEngineOptions.AdminConnectionString", error.Setting);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("cannot connect to MariaDB/MySQL at 127.0.0.1:1 as 'someone'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_names_the_servers_error_but_not_the_password()
    {
        var builder = new MySql.Data.MySqlClient.MySqlConnectionStringBuilder(await MariaDbTestServer.GetAdminConnectionStringAsync(Token)) { Password = "hunter2-wrong" };
        var engine = new MariaDbEngine(new MariaDbEngineOptions { AdminConnectionString = builder.ConnectionString });

        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
            TestDatabasePool.CreateAsync(engine, MariaDbEngineTests.Options(MariaDbEngineTests.Sql("CREATE TABLE t (id INT)")), Token));

        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("Access denied", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_binaries_say_to_install_mariadb_server_or_set_DEFLAKE_MARIADB()
    {
        var empty = Directory.CreateTempSubdirectory("deflake-nobin-");
        try
        {
            var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() =>
                MariaDbLocalServer.StartAsync(new MariaDbLocalServerOptions { SearchDirectories = [empty.FullName], RuntimeDirectory = empty.FullName }, Token));

            Assert.Equal("DEFLAKE_MARIADB", error.Setting);
            Assert.DoesNotContain('\n', error.Message);
            Assert.Contains("install mariadb-server", error.Message, StringComparison.Ordinal);
            Assert.Contains("set DEFLAKE_MARIADB", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }
}
