using Xunit.Abstractions;
using Xunit.Sdk;

namespace Deflake.Xunit2;

/// <summary>Where Deflake's lines that belong to no test go in xUnit v2: the diagnostic message sink of the run.</summary>
internal static class Xunit2Diagnostics
{
    private static IMessageSink? _sink;

    /// <summary>Set by <see cref="DeflakeTestFramework"/> (with <c>[assembly: DeflakeOrder]</c>).</summary>
    public static void Use(IMessageSink sink) => _sink = sink;

    public static void Write(string line) => _sink?.OnMessage(new DiagnosticMessage(line));
}
