using Deflake.Frameworks;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace Deflake.Xunit.Tests.Ambient;

/// <summary>App code that reads its connection string from configuration gets the test's own database in one line.</summary>
[DeflakeDatabase]
public sealed class AppConfigurationTests
{
    [Fact]
    public async Task An_ASP_NET_Core_app_under_WebApplicationFactory_reads_the_tests_database()
    {
        await SuiteSupport.InsertAndCountAsync("web", 3, TestContext.Current.CancellationToken);

        await using var factory = new WebApplicationFactory<ConfigApp.Marker>()
            .WithWebHostBuilder(b => b.UseSetting("ConnectionStrings:Shop", TestDatabase.Current.ConnectionString));
        var count = await factory.CreateClient().GetStringAsync(new Uri("/items/count", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal("4", count);
    }

    [Fact]
    public void An_IConfiguration_gets_the_connection_string_under_the_apps_key()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(TestDatabase.Current.AsConfiguration("ConnectionStrings:Shop")).Build();

        Assert.Equal(TestDatabase.Current.ConnectionString, configuration.GetConnectionString("Shop"));
    }
}
