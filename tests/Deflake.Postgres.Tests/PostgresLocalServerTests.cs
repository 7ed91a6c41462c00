using Npgsql;

namespace Deflake.Postgres.Tests;

public sealed class PostgresLocalServerTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Starting_twice_attaches_to_the_same_running_server()
    {
        var first = await PostgresLocalServer.StartAsync(cancellationToken: Token);
        var second = await PostgresLocalServer.StartAsync(cancellationToken: Token);

        Assert.False(second.WasStarted);
        Assert.Equal(first.ConnectionString, second.ConnectionString);
        Assert.StartsWith(DeflakeEnvironment.GetRuntimeDirectory(), second.ServerDirectory, StringComparison.Ordinal);
        await using var connection = new NpgsqlConnection(second.ConnectionString);
        await connection.OpenAsync(Token);
        Assert.Equal("off", await TestSchemas.ScalarAsync<string>(connection, "show fsync", Token));
        Assert.Equal("", await TestSchemas.ScalarAsync<string>(connection, "show listen_addresses", Token));
        Assert.Equal(second.ServerDirectory, await TestSchemas.ScalarAsync<string>(connection, "show unix_socket_directories", Token));
    }

    [Fact]
    public async Task The_server_stops_itself_when_idle_and_starts_again_on_demand()
    {
        await using var scope = new PrivateServer();
        // Idle time counts from the start (an attach), so a loaded machine still has time to connect first.
        var options = new PostgresLocalServerOptions { IdleShutdown = TimeSpan.FromSeconds(4) };
        var server = await scope.StartAsync(options);
        Assert.True(server.WasStarted);
        await using (var connection = new NpgsqlConnection(server.ConnectionString + ";Pooling=false"))
        {
            await connection.OpenAsync(Token);
            Assert.Equal(server.MajorVersion, await TestSchemas.ScalarAsync<int>(connection, "select current_setting('server_version_num')::int / 10000", Token));
        }

        var pidFile = Path.Combine(server.DataDirectory, "postmaster.pid");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (File.Exists(pidFile))
        {
            Assert.True(DateTime.UtcNow < deadline, "the idle server did not stop itself within 30 s");
            await Task.Delay(200, Token);
        }

        var again = await scope.StartAsync(options);
        Assert.True(again.WasStarted);
        Assert.Equal(server.DataDirectory, again.DataDirectory);
        await using var reconnected = new NpgsqlConnection(again.ConnectionString + ";Pooling=false");
        await reconnected.OpenAsync(Token);
    }

    [Fact]
    public async Task The_server_keeps_running_while_a_client_is_connected()
    {
        await using var scope = new PrivateServer();
        var server = await scope.StartAsync(new PostgresLocalServerOptions { IdleShutdown = TimeSpan.FromSeconds(4) });
        await using var connection = new NpgsqlConnection(server.ConnectionString + ";Pooling=false");
        await connection.OpenAsync(Token);
        await Task.Delay(TimeSpan.FromSeconds(7), Token);

        Assert.Equal(1, await TestSchemas.ScalarAsync<int>(connection, "select 1", Token));
    }
}
