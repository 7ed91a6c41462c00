using Deflake.Postgres;

namespace Deflake.Testing;

/// <summary>The tests it marks (an assembly, a class, a method) need PostgreSQL: skipped, saying what to install, where its binaries are missing (see <see cref="RequiresEngineAttribute"/>).</summary>
[AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class | AttributeTargets.Method)]
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
