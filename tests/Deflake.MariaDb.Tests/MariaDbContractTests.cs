using Deflake.Contract;
using Deflake.MariaDb.Internal;

namespace Deflake.MariaDb.Tests;

/// <summary>The engine contract, against a real MariaDB server (throwaway local one unless DEFLAKE_MARIADB is set).</summary>
public sealed class MariaDbContractTests : EngineContractTests
{
    protected override int SyntaxErrorColumn => 23;

    protected override IDatabaseEngine CreateEngine() => MariaDbTestServer.CreateEngineAsync().GetAwaiter().GetResult();

    protected override async Task<bool> ExistsAsync(string name, string connectionString) =>
        (await MariaDbTestServer.DatabaseNamesAsync(name)).Contains(name);

    protected override async Task RemoveKeptAsync(string name, string connectionString)
    {
        await MariaDbTestServer.ExecuteAsync($"DROP DATABASE IF EXISTS {Quote.Identifier(name)}; DELETE FROM deflake_registry.`databases` WHERE name = {Quote.Literal(name)}");
    }
}
