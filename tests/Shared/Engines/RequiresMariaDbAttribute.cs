using Deflake.MariaDb;

namespace Deflake.Testing;

/// <summary>The tests it marks (an assembly, a class, a method) need MariaDB: skipped, saying what to install, where its binaries are missing (see <see cref="RequiresEngineAttribute"/>).</summary>
[AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class | AttributeTargets.Method)]
internal sealed class RequiresMariaDbAttribute : RequiresEngineAttribute
{
    private static readonly Lazy<string?> Missing = new(() =>
    {
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(DeflakeEnvironment.MariaDb)))
        {
            return null;
        }

        try
        {
            MariaDbLocalServer.FindBinaries(new MariaDbLocalServerOptions());
            return null;
        }
        catch (DeflakeConfigurationException)
        {
            return "MariaDB server binaries (mariadbd) are not installed: install the package mariadb-server (apt-get install mariadb-server) or set DEFLAKE_MARIADB; DEFLAKE_REQUIRE_ENGINES=mariadb makes this a failure.";
        }
    });

    protected override string Engine => "mariadb";

    protected override string? MissingReason => Missing.Value;
}
