using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using Deflake.Testing;

namespace Deflake.MSTest;

/// <summary>
/// <c>[TestClass]</c> that gives every test of the class its own database in <see cref="TestDatabase.Current"/>, without
/// a base class: <c>[DeflakeTestClass(typeof(MyDatabase))]</c>. The database is rented before the test's
/// <c>[TestInitialize]</c> (with the test's id, so the per-test chaos of <c>deflake hunt</c> applies) and dropped after
/// its <c>[TestCleanup]</c>, or kept when the test failed and <c>DEFLAKE_KEEP_FAILED=1</c>; the test's output says
/// where, and shows Deflake's warnings.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class DeflakeTestClassAttribute : TestClassAttribute
{
    /// <summary>Uses the pool of <paramref name="fixtureType"/>, a <see cref="DeflakeFixture"/> with a parameterless constructor.</summary>
    public DeflakeTestClassAttribute(Type fixtureType)
    {
        ArgumentNullException.ThrowIfNull(fixtureType);
        FixtureType = fixtureType;
    }

    /// <summary>The fixture type.</summary>
    public Type FixtureType { get; }

    /// <summary>Wraps each test method so that it runs with its own database.</summary>
    public override TestMethodAttribute? GetTestMethodAttribute(TestMethodAttribute testMethodAttribute)
    {
        ArgumentNullException.ThrowIfNull(testMethodAttribute);
        return testMethodAttribute is DeflakeTestMethodAttribute ? testMethodAttribute : new DeflakeTestMethodAttribute(FixtureType, testMethodAttribute);
    }
}

/// <summary>Runs a test method with its own database in <see cref="TestDatabase.Current"/> (made by <see cref="DeflakeTestClassAttribute"/>).</summary>
public sealed class DeflakeTestMethodAttribute : TestMethodAttribute
{
    private static int _orderChecked;
    private readonly Type _fixtureType;
    private readonly TestMethodAttribute _inner;

    /// <summary>Wraps <paramref name="inner"/>, the method's own attribute (whose declaring file and line it keeps).</summary>
    public DeflakeTestMethodAttribute(Type fixtureType, TestMethodAttribute inner, [CallerFilePath] string callerFilePath = "", [CallerLineNumber] int callerLineNumber = -1)
        : base(inner?.DeclaringFilePath ?? callerFilePath, inner?.DeclaringLineNumber ?? callerLineNumber)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(fixtureType);
        _fixtureType = fixtureType;
        _inner = inner;
        DisplayName = inner.DisplayName;
        UnfoldingStrategy = inner.UnfoldingStrategy;
    }

    /// <summary>Rents, runs the test (initialize, method, cleanup) through the method's own attribute, and returns the database.</summary>
    public override async Task<TestResult[]> ExecuteAsync(ITestMethod testMethod)
    {
        ArgumentNullException.ThrowIfNull(testMethod);
        CheckOrderOnce(testMethod.MethodInfo.DeclaringType?.Assembly);
        var fixture = SharedTestPools.Fixture<DeflakeFixture>(_fixtureType, "[DeflakeTestClass]");
        var output = new StringBuilder();
        var database = await fixture.RentAsync($"{testMethod.TestClassName}.{testMethod.TestMethodName}", line => output.AppendLine(line)).ConfigureAwait(false);
        TestResult[] results;
        TestDatabase.SetCurrent(database);
        try
        {
            results = await _inner.ExecuteAsync(testMethod).ConfigureAwait(false);
        }
        finally
        {
            TestDatabase.SetCurrent(null);
        }

        if (results.Any(r => r.Outcome is UnitTestOutcome.Failed or UnitTestOutcome.Timeout or UnitTestOutcome.Error))
        {
            database.MarkFailed();
        }

        await database.DisposeAsync().ConfigureAwait(false);
        if (database.KeptAt is { } where)
        {
            var line = $"Deflake kept this test's {database.EngineKind} database {database.Name}: {where} (seed {database.Seed})";
            output.AppendLine(line);
            await Console.Error.WriteLineAsync(line).ConfigureAwait(false);
        }

        if (output.Length > 0)
        {
            foreach (var result in results)
            {
                result.LogOutput = output + result.LogOutput;
            }
        }

        return results;
    }

    private static void CheckOrderOnce(Assembly? assembly)
    {
        if (assembly?.GetCustomAttribute<DeflakeOrderAttribute>() is not null && Interlocked.Exchange(ref _orderChecked, 1) == 0)
        {
            // An unusable DEFLAKE_ORDER ends the process with its one-line error before the first test.
            _ = TestOrderSetting.OfProcessOrExit();
        }
    }
}
