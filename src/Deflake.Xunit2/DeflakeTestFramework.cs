using System.Reflection;
using Deflake.Testing;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Deflake.Xunit2;

/// <summary>xUnit v2's own framework, with a runner that orders tests by <c>DEFLAKE_ORDER</c>. Registered by <see cref="DeflakeOrderAttribute"/>.</summary>
public sealed class DeflakeTestFramework : XunitTestFramework
{
    /// <summary>Creates the framework.</summary>
    public DeflakeTestFramework(IMessageSink messageSink)
        : base(messageSink)
    {
        Xunit2Diagnostics.Use(messageSink);
    }

    /// <inheritdoc/>
    protected override ITestFrameworkExecutor CreateExecutor(AssemblyName assemblyName)
        => new Executor(assemblyName, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Executor(AssemblyName assemblyName, ISourceInformationProvider sourceInformationProvider, IMessageSink diagnosticMessageSink)
        : XunitTestFrameworkExecutor(assemblyName, sourceInformationProvider, diagnosticMessageSink)
    {
        protected override async void RunTestCases(IEnumerable<IXunitTestCase> testCases, IMessageSink executionMessageSink, ITestFrameworkExecutionOptions executionOptions)
        {
            using var runner = new AssemblyRunner(TestAssembly, testCases, DiagnosticMessageSink, executionMessageSink, executionOptions);
            await runner.RunAsync().ConfigureAwait(false);
        }
    }

    private sealed class AssemblyRunner(ITestAssembly testAssembly, IEnumerable<IXunitTestCase> testCases, IMessageSink diagnosticMessageSink, IMessageSink executionMessageSink, ITestFrameworkExecutionOptions executionOptions)
        : XunitTestAssemblyRunner(testAssembly, testCases, diagnosticMessageSink, executionMessageSink, executionOptions)
    {
        private TestOrderSetting _setting = TestOrderSetting.Default;

        protected override async Task AfterTestAssemblyStartingAsync()
        {
            await base.AfterTestAssemblyStartingAsync().ConfigureAwait(false);
            // xUnit v2 logs an orderer's error and runs its own order: an unusable DEFLAKE_ORDER ends the process here.
            _setting = TestOrderSetting.OfProcessOrExit();
            if (_setting.Kind != TestOrderKind.Default)
            {
                TestCaseOrderer = new DeflakeTestCaseOrderer(_setting);
                TestCollectionOrderer = new DeflakeTestCollectionOrderer(_setting)
                {
                    TestsOfCollection = TestCases
                        .GroupBy(c => c.TestMethod.TestClass.TestCollection.UniqueID)
                        .ToDictionary(g => g.Key, g => g.Select(DeflakeTestCaseOrderer.TestId).ToArray()),
                };
            }
        }

        protected override Task<RunSummary> RunTestCollectionAsync(IMessageBus messageBus, ITestCollection testCollection, IEnumerable<IXunitTestCase> testCases, CancellationTokenSource cancellationTokenSource)
        {
            // The collection runner runs classes in the order of their first test case: order the cases first.
            var ordered = _setting.Kind == TestOrderKind.Default ? testCases : DeflakeTestCaseOrderer.Order(_setting, testCases, byClass: true);
            return base.RunTestCollectionAsync(messageBus, testCollection, ordered, cancellationTokenSource);
        }
    }
}
