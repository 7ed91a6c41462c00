using System.Reflection;
using Xunit.v3;

namespace Deflake.Testing;

/// <summary>
/// An engine's tests on a machine without its server binaries: each is skipped with one line naming the package to
/// install, unless <c>DEFLAKE_REQUIRE_ENGINES</c> (comma list, set by .ci/run) names the engine; then they run and fail
/// on the missing binaries. A server that is configured (<c>DEFLAKE_POSTGRES</c>, <c>DEFLAKE_MARIADB</c>) is never a
/// reason to skip. Each test project derives one per engine and puts it on its assembly.
/// </summary>
internal abstract class RequiresEngineAttribute : BeforeAfterTestAttribute
{
    /// <summary>The engine's name in <c>DEFLAKE_REQUIRE_ENGINES</c>: <c>postgres</c>, <c>mariadb</c>.</summary>
    protected abstract string Engine { get; }

    /// <summary>Null when the binaries are there (or a server is configured); else the one-line reason to skip (cache it).</summary>
    protected abstract string? MissingReason { get; }

    /// <summary>Whether <c>DEFLAKE_REQUIRE_ENGINES</c> names <paramref name="engine"/>.</summary>
    public static bool IsRequired(string engine) => (Environment.GetEnvironmentVariable(DeflakeEnvironment.RequireEngines) ?? "")
        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Any(e => e.Equals(engine, StringComparison.OrdinalIgnoreCase));

    public override void Before(MethodInfo methodUnderTest, IXunitTest test)
    {
        if (MissingReason is { } reason && !IsRequired(Engine))
        {
            Assert.Skip(reason);
        }
    }
}
