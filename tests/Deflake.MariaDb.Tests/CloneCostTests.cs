using System.Diagnostics;

namespace Deflake.MariaDb.Tests;

/// <summary>What a clone costs on this machine, written to the test output (not asserted: shared machines are noisy).</summary>
public sealed class CloneCostTests
{
    [Fact]
    public async Task Twenty_table_clone_create_and_drop_is_measured_and_every_clone_is_complete()
    {
        var token = TestContext.Current.CancellationToken;
        var sql = string.Concat(Enumerable.Range(1, 20).Select(i =>
            $"CREATE TABLE t{i} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, n INT NOT NULL DEFAULT 0, KEY ix_n (n)); INSERT INTO t{i} (name) VALUES ('a'), ('b'), ('c');"));
        await using var engine = await MariaDbTestServer.CreateEngineAsync();
        await engine.StartAsync(new EngineContext(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System, ChaosModes.None, 1), token);
        var template = await engine.EnsureTemplateAsync(new TemplateRequest(Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()), MariaDbEngineTests.Sql(sql), ChaosModes.None, 1), token);

        var create = new List<double>();
        var drop = new List<double>();
        for (var i = 0; i < 10; i++)
        {
            var watch = Stopwatch.StartNew();
            var clone = await engine.CreateCloneAsync(template, token);
            create.Add(watch.Elapsed.TotalMilliseconds);
            await using (var connection = engine.CreateConnection(clone))
            {
                await connection.OpenAsync(token);
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT COUNT(*) FROM t20";
                Assert.Equal(3L, Convert.ToInt64(await command.ExecuteScalarAsync(token), System.Globalization.CultureInfo.InvariantCulture));
            }

            watch.Restart();
            await engine.DropCloneAsync(clone, token);
            drop.Add(watch.Elapsed.TotalMilliseconds);
        }

        create.Sort();
        drop.Sort();
        TestContext.Current.SendDiagnosticMessage($"MariaDB 20-table clone: create median {create[5]:0} ms (min {create[0]:0}), drop median {drop[5]:0} ms");
        Console.WriteLine($"MariaDB 20-table clone: create median {create[5]:0} ms (min {create[0]:0}), drop median {drop[5]:0} ms");
    }
}
