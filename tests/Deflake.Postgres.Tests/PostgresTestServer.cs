namespace Deflake.Postgres.Tests;

/// <summary>
/// The PostgreSQL server the tests use. Minimal stand-in: the server named by <c>DEFLAKE_POSTGRES</c>; the throwaway
/// local server replaces it. All server access of the tests goes through here.
/// </summary>
internal static class PostgresTestServer
{
    public static Task<string> GetAdminConnectionStringAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var configured = Environment.GetEnvironmentVariable(DeflakeEnvironment.Postgres);
        return string.IsNullOrWhiteSpace(configured)
            ? throw new InvalidOperationException("Set DEFLAKE_POSTGRES to a PostgreSQL admin connection string to run these tests.")
            : Task.FromResult(configured);
    }
}
