namespace Deflake.MariaDb.Tests;

/// <summary>Clones of a wider template, made and dropped one after another, are each complete. (What a clone costs: bench, MariaDbRentBenchmarks.)</summary>
public sealed class CloneCompletenessTests
{
    [Fact]
    public async Task Ten_clones_of_a_twenty_table_template_in_a_row_are_each_complete_and_dropped()
    {
        var token = TestContext.Current.CancellationToken;
        var sql = string.Concat(Enumerable.Range(1, 20).Select(i =>
            $"CREATE TABLE t{i} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, n INT NOT NULL DEFAULT 0, KEY ix_n (n)); INSERT INTO t{i} (name) VALUES ('a'), ('b'), ('c');"));
        await using var engine = await MariaDbTestServer.CreateEngineAsync();
        await engine.StartAsync(new EngineContext(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System, ChaosModes.None, 1), token);
        var template = await engine.EnsureTemplateAsync(new TemplateRequest(Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()), MariaDbEngineTests.Sql(sql), ChaosModes.None, 1), token);

        for (var i = 0; i < 10; i++)
        {
            var clone = await engine.CreateCloneAsync(template, token);
            await using (var connection = engine.CreateConnection(clone))
            {
                await connection.OpenAsync(token);
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT COUNT(*) FROM t20";
                Assert.Equal(3L, Convert.ToInt64(await command.ExecuteScalarAsync(token), System.Globalization.CultureInfo.InvariantCulture));
            }

            await engine.DropCloneAsync(clone, token);
            Assert.DoesNotContain(clone.Name, await MariaDbTestServer.DatabaseNamesAsync("deflake_", token));
        }
    }
}

