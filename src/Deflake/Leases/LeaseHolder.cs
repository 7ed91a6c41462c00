using System.Globalization;

namespace Deflake;

/// <summary>Who holds (or asks for) a lease: shown in timeout errors so a stuck lease can be traced.</summary>
public sealed class LeaseHolder
{
    /// <summary>Creates a holder note.</summary>
    public LeaseHolder(string workerId, int processId, string machineName, string? testName, DateTimeOffset since)
    {
        WorkerId = workerId;
        ProcessId = processId;
        MachineName = machineName;
        TestName = testName;
        Since = since;
    }

    /// <summary>The worker id, such as <c>w1</c>.</summary>
    public string WorkerId { get; }

    /// <summary>The process id.</summary>
    public int ProcessId { get; }

    /// <summary>The machine's name.</summary>
    public string MachineName { get; }

    /// <summary>The test that asked, when known (<see cref="LeaseOptions.TestName"/>).</summary>
    public string? TestName { get; }

    /// <summary>When the request was made.</summary>
    public DateTimeOffset Since { get; }

    /// <summary>One line: <c>worker w1 (pid 4242 on ci-7), test 'Checkout', since 12:00:01.250Z</c>.</summary>
    public override string ToString()
    {
        var test = TestName is null ? string.Empty : $", test '{LeaseNames.OneLine(TestName, 120)}'";
        return string.Create(CultureInfo.InvariantCulture,
            $"worker {WorkerId} (pid {ProcessId} on {MachineName}){test}, since {Since.UtcDateTime:HH:mm:ss.fff}Z");
    }

    /// <summary>A short form for places limited to 63 bytes, such as PostgreSQL's <c>application_name</c>.</summary>
    public string ToShortString()
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"deflake {WorkerId} pid {ProcessId} on {MachineName}");
        if (TestName is not null)
        {
            text += " " + LeaseNames.OneLine(TestName, 63);
        }

        return LeaseNames.OneLine(text, 63);
    }
}
