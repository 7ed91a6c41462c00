using Deflake;
using Deflake.Postgres;

/// <summary>
/// Seed 003 (PostgreSQL): the schema runs <c>CREATE EXTENSION IF NOT EXISTS pgcrypto</c> (which races when run
/// concurrently). Usage: <c>pg-template-race VERSION GO_FILE</c>. Reads the server from DEFLAKE_POSTGRES.
/// </summary>
public sealed class PostgresTemplateRaceScenario : ServerTemplateRaceScenario
{
    public override string Name => "pg-template-race";

    protected override string SchemaSql => "create extension if not exists pgcrypto; select pg_sleep(1); create table secrets (id int primary key, hash bytea not null);";

    protected override string CheckSql => "insert into secrets values (1, digest('x', 'sha256')); select count(*) from secrets";

    protected override IDatabaseEngine CreateEngine() => new PostgresEngine();
}
