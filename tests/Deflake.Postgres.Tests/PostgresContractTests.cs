using Deflake.Contract;
using Deflake.Postgres.Internal;

namespace Deflake.Postgres.Tests;

/// <summary>The engine contract, against the real PostgreSQL server (throwaway local one unless DEFLAKE_POSTGRES is set).</summary>
public sealed class PostgresContractTests : EngineContractTests
{
    protected override IDatabaseEngine CreateEngine() => PostgresTestServer.CreateEngineAsync().GetAwaiter().GetResult();

    protected override async Task<bool> ExistsAsync(string name, string connectionString) =>
        (await PostgresTestServer.DatabaseNamesAsync(name)).Contains(name);

    protected override async Task RemoveKeptAsync(string name, string connectionString)
    {
        await using var admin = await PostgresTestServer.OpenAdminAsync();
        await using var command = admin.CreateCommand();
        command.CommandText = $"DROP DATABASE IF EXISTS {Quote.Identifier(name)} WITH (FORCE)";
        await command.ExecuteNonQueryAsync();
    }
}
