using System.Data.Common;
using Deflake.EntityFrameworkCore.Tests.Contexts;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Deflake.EntityFrameworkCore.Tests;

public sealed class EfCoreSchemaBadInputTests : IDisposable
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private readonly SqlitePools _pools = new();

    public void Dispose() => _pools.Dispose();

    [Fact]
    public async Task A_factory_that_returns_null_is_a_one_line_error_naming_the_setting()
    {
        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(
            () => _pools.CreateAsync(EfCoreSchema.FromDbContext<ShopContext>(_ => null!)));

        Assert.Equal("EfCoreSchema.FromDbContext factory", error.Setting);
        Assert.Contains("returned null; it must return a new ShopContext built on the connection it is given", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task A_factory_that_throws_is_a_one_line_error_naming_the_setting_and_the_exception()
    {
        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(
            () => _pools.CreateAsync(EfCoreSchema.FromDbContext<ShopContext>(_ => throw new InvalidOperationException("no options\nsecond line"))));

        Assert.Equal("EfCoreSchema.FromDbContext factory", error.Setting);
        Assert.Contains("threw InvalidOperationException: no options;", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.IsType<InvalidOperationException>(error.InnerException);
    }

    [Fact]
    public async Task A_factory_that_builds_the_context_on_a_connection_string_is_refused()
    {
        var path = Path.Combine(_pools.Directory, "elsewhere.db");
        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(() => _pools.CreateAsync(EfCoreSchema.FromDbContext(
            _ => new ShopContext(new DbContextOptionsBuilder<ShopContext>().UseSqlite($"Data Source={path}").Options))));

        Assert.Contains("on a connection of its own (a connection string?)", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void A_null_factory_is_refused()
    {
        var error = Assert.Throws<DeflakeConfigurationException>(() => EfCoreSchema.FromDbContext<ShopContext>(null!));

        Assert.Equal("EfCoreSchema.FromDbContext factory", error.Setting);
    }

    [Fact]
    public async Task An_engine_without_a_provider_factory_is_a_one_line_error_saying_what_to_do()
    {
        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(
            () => EfCoreSchema.FromDbContext(ShopContext.Create).ComputeFingerprintAsync(new SchemaContext("custom", null), Token).AsTask());

        Assert.Contains("'custom' engine gives no ADO.NET provider (IDatabaseEngine.ProviderFactory is null)", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task The_fingerprint_overload_without_a_SchemaContext_says_it_needs_one()
    {
        var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(
            () => EfCoreSchema.FromDbContext(ShopContext.Create).ComputeFingerprintAsync(Token).AsTask());

        Assert.Contains("needs a SchemaContext", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_test_database_helper_refuses_a_factory_that_returns_null_and_closes_its_connection()
    {
        var (pool, _) = await _pools.CreateAsync(EfCoreSchema.FromDbContext(ShopContext.Create));
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            DbConnection? given = null;
            var error = await Assert.ThrowsAsync<DeflakeConfigurationException>(
                async () => await database.CreateDbContextAsync<ShopContext>(c => { given = c; return null!; }, Token));

            Assert.Equal("TestDatabase.CreateDbContextAsync factory", error.Setting);
            Assert.NotNull(given);
            Assert.Equal(System.Data.ConnectionState.Closed, given.State);
        }
    }

    [Fact]
    public void The_SQLite_engine_gives_its_provider()
    {
        Assert.Same(SqliteFactory.Instance, new Deflake.Sqlite.SqliteEngine(new Deflake.Sqlite.SqliteEngineOptions { Directory = _pools.Directory }).ProviderFactory);
    }
}
