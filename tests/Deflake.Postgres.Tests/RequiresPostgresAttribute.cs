using Deflake.Testing;

[assembly: Deflake.Postgres.Tests.RequiresPostgres]

namespace Deflake.Postgres.Tests;

/// <summary>Every test here needs PostgreSQL: skipped, saying what to install, where its binaries are missing (see <see cref="RequiresEngineAttribute"/>).</summary>
[AttributeUsage(AttributeTargets.Assembly)]
internal sealed class RequiresPostgresAttribute : RequiresEngineAttribute
{
    private static readonly Lazy<string?> Missing = new(() =>
    {
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(DeflakeEnvironment.Postgres)))
        {
            return null;
        }

        try
        {
            PostgresLocalServer.FindBinariesAsync(null).GetAwaiter().GetResult();
            return null;
        }
        catch (DeflakeConfigurationException)
        {
            return "PostgreSQL server binaries (initdb, postgres) are not installed: install the package postgresql (apt-get install postgresql) or set DEFLAKE_POSTGRES; DEFLAKE_REQUIRE_ENGINES=postgres makes this a failure.";
        }
    });

    protected override string Engine => "postgres";

    protected override string? MissingReason => Missing.Value;
}
