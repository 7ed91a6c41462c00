using Deflake;
using Deflake.MariaDb;

/// <summary>
/// Seed 003 (MariaDB). Usage: <c>mariadb-template-race VERSION GO_FILE</c>. Reads the server from DEFLAKE_MARIADB.
/// </summary>
public sealed class MariaDbTemplateRaceScenario : ServerTemplateRaceScenario
{
    public override string Name => "mariadb-template-race";

    protected override string SchemaSql => "CREATE TABLE secrets (id INT PRIMARY KEY, hash VARBINARY(32) NOT NULL); DO SLEEP(1);";

    protected override string CheckSql => "INSERT INTO secrets VALUES (1, UNHEX(SHA2('x', 256))); SELECT COUNT(*) FROM secrets";

    protected override IDatabaseEngine CreateEngine() => new MariaDbEngine();
}
