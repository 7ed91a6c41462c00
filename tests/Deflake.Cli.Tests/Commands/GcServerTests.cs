using Deflake.MariaDb;
using Deflake.Postgres;
using Deflake.Testing;
using MySql.Data.MySqlClient;
using Npgsql;

namespace Deflake.Cli.Tests.Commands;

/// <summary>
/// <c>deflake gc</c> on the server engines (issue 17): the clones of a process killed outright are removed by gc alone,
/// on the throwaway servers it finds running, and databases Deflake did not make are left alone.
/// </summary>
public sealed class GcServerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    [Deflake.Testing.RequiresPostgres]
    public async Task Gc_alone_removes_the_PostgreSQL_clones_of_a_killed_process_and_nothing_foreign()
    {
        // The test starts the server; gc only finds it running.
        var server = await PostgresLocalServer.StartAsync(cancellationToken: Token);
        var foreign = "gc_foreign_" + Guid.NewGuid().ToString("N")[..12];
        var lookalike = "deflake_foreign_" + Guid.NewGuid().ToString("N")[..12]; // Deflake's prefix, no marker: not ours
        await PostgresAsync(server.ConnectionString, $"create database \"{foreign}\"", $"create database \"{lookalike}\"");
        string template = "";
        List<string> clones = [];
        for (var attempt = 1; ; attempt++)
        {
            await using (var host = HostChild.Start("pg-hold-clones", [Guid.NewGuid().ToString("N")],
                new Dictionary<string, string?> { [DeflakeEnvironment.Postgres] = server.ConnectionString }))
            {
                template = (await host.ReadLineStartingAsync("template ", Patience))["template ".Length..];
                clones = [(await host.ReadLineStartingAsync("clone ", Patience))["clone ".Length..], (await host.ReadLineStartingAsync("clone ", Patience))["clone ".Length..]];
                await host.ReadLineStartingAsync("ready", Patience);
                await host.KillAsync();
            }

            if (StillThere(clones, PostgresNames(server.ConnectionString), attempt))
            {
                break;
            }
        }

        try
        {

            var (code, output, error) = await CommandLineTests.RunAsync("gc");

            Assert.Equal(0, code);
            Assert.Equal("", error);
            Assert.Contains($"postgres: removed ", output, StringComparison.Ordinal);
            Assert.Contains($"on the throwaway server in {server.ServerDirectory}", output, StringComparison.Ordinal);
            var names = PostgresNames(server.ConnectionString);
            Assert.All(clones, clone => Assert.DoesNotContain(clone, names));
            Assert.Contains(foreign, names);
            Assert.Contains(lookalike, names);
            Assert.Contains(template, names); // a template is a cache, not an orphan
        }
        finally
        {
            await PostgresAsync(server.ConnectionString, $"drop database if exists \"{foreign}\"", $"drop database if exists \"{lookalike}\"",
                $"alter database \"{template}\" with is_template false", $"drop database if exists \"{template}\"");
        }
    }

    [Fact]
    [Deflake.Testing.RequiresMariaDb]
    public async Task Gc_alone_removes_the_MariaDB_clones_of_a_killed_process_and_nothing_foreign_and_never_prints_the_password()
    {
        var server = await MariaDbLocalServer.StartAsync(cancellationToken: Token);
        var foreign = "gc_foreign_" + Guid.NewGuid().ToString("N")[..12];
        var lookalike = "deflake_foreign_" + Guid.NewGuid().ToString("N")[..12];
        await MariaDbAsync(server.ConnectionString, $"CREATE DATABASE `{foreign}`", $"CREATE DATABASE `{lookalike}`");
        List<string> clones = [];
        for (var attempt = 1; ; attempt++)
        {
            await using (var host = HostChild.Start("mariadb-hold-clones", [Guid.NewGuid().ToString("N")],
                new Dictionary<string, string?> { [DeflakeEnvironment.MariaDb] = server.ConnectionString }))
            {
                clones = [(await host.ReadLineStartingAsync("clone ", Patience))["clone ".Length..], (await host.ReadLineStartingAsync("clone ", Patience))["clone ".Length..]];
                await host.ReadLineStartingAsync("ready", Patience);
                await host.KillAsync();
            }

            if (StillThere(clones, await MariaDbNamesAsync(server.ConnectionString), attempt))
            {
                break;
            }
        }

        try
        {

            var (code, output, error) = await CommandLineTests.RunAsync("gc");

            Assert.Equal(0, code);
            Assert.Equal("", error);
            Assert.Contains($"mariadb: removed ", output, StringComparison.Ordinal);
            Assert.Contains($"on the throwaway server in {server.ServerDirectory}", output, StringComparison.Ordinal);
            Assert.DoesNotContain(new MySqlConnectionStringBuilder(server.ConnectionString).Password, output, StringComparison.Ordinal);
            var names = await MariaDbNamesAsync(server.ConnectionString);
            Assert.All(clones, clone => Assert.DoesNotContain(clone, names));
            Assert.Contains(foreign, names);
            Assert.Contains(lookalike, names);
        }
        finally
        {
            await MariaDbAsync(server.ConnectionString, $"DROP DATABASE IF EXISTS `{foreign}`", $"DROP DATABASE IF EXISTS `{lookalike}`");
        }
    }

    /// <summary>
    /// Whether the killed process's clones are still there for gc to remove. Any pool start on the same server removes a dead
    /// owner's clones at once (the rule gc applies too), and other test projects run beside this one on the same throwaway
    /// server: when one got there first, the orphans are made again, three times at most.
    /// </summary>
    private static bool StillThere(List<string> clones, IEnumerable<string> names, int attempt)
    {
        var present = names.ToHashSet(StringComparer.Ordinal);
        if (clones.All(present.Contains))
        {
            return true;
        }

        Assert.True(attempt < 3, $"the killed process's clones ({string.Join(", ", clones)}) were gone before gc ran, {attempt} times in a row");
        return false;
    }

    [Fact]
    public async Task A_throwaway_server_that_is_not_running_is_reported_and_never_started()
    {
        var runtime = Directory.CreateTempSubdirectory("deflake-gc-runtime-").FullName;
        try
        {
            var servers = new List<OrphanServer>();
            servers.AddRange(await PostgresOrphanServers.FindAsync(new PostgresLocalServerOptions { RuntimeDirectory = runtime }, Token));
            servers.AddRange(await MariaDbOrphanServers.FindAsync(new MariaDbLocalServerOptions { RuntimeDirectory = runtime }, Token));
            var outcomes = await OrphanCollector.CollectAsync(servers.Where(s => s.Where.StartsWith("the throwaway", StringComparison.Ordinal)), TimeSpan.FromDays(7), cancellationToken: Token);

            Assert.Equal(["mariadb", "postgres"], outcomes.Select(o => o.Engine).Order());
            Assert.All(outcomes, o => Assert.Null(o.Removed));
            Assert.All(outcomes, o => Assert.Equal("not running (gc never starts one)", o.Problem));
            Assert.Empty(Directory.GetFileSystemEntries(runtime));
        }
        finally
        {
            Directory.Delete(runtime, recursive: true);
        }
    }

    private static async Task PostgresAsync(string connectionString, params string[] statements)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync(Token);
        foreach (var sql in statements)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(Token);
        }
    }

    private static HashSet<string> PostgresNames(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        connection.Open();
        using var command = new NpgsqlCommand("select datname from pg_database", connection);
        using var reader = command.ExecuteReader();
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private static async Task MariaDbAsync(string connectionString, params string[] statements)
    {
        await using var connection = new MySqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync(Token);
        foreach (var sql in statements)
        {
            await using var command = new MySqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(Token);
        }
    }

    private static async Task<HashSet<string>> MariaDbNamesAsync(string connectionString)
    {
        await using var connection = new MySqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync(Token);
        await using var command = new MySqlCommand("SHOW DATABASES", connection);
        await using var reader = await command.ExecuteReaderAsync(Token);
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(Token))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }
}
