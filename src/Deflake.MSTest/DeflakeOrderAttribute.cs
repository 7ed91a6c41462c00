namespace Deflake.MSTest;

/// <summary>
/// Marks an MSTest assembly as ready for <c>DEFLAKE_ORDER</c>: add <c>[assembly: Deflake.MSTest.DeflakeOrder]</c> once.
/// MSTest decides the order of a run before any test code runs and offers no hook to change it from the test
/// assembly (its own <c>randomizeTestOrder</c> shuffles the filtered list, so a filtered rerun does not keep the
/// relative order), so the order itself is given to MSTest by whoever starts the run (<c>deflake</c>), as a dependency
/// chain in its configuration file (<see cref="MSTestOrder"/>; docs/mstest.md). With this attribute the first test of a <c>[DeflakeTestClass]</c> checks the setting: a
/// <c>DEFLAKE_ORDER</c> file that cannot be read ends the test process with a one-line error before any test runs.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = false)]
public sealed class DeflakeOrderAttribute : Attribute
{
}
