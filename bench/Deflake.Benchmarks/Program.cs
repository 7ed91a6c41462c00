using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

if (args is ["interleaved-chaos", ..])
{
    // Not BenchmarkDotNet: see ChaosOverheadInterleaved.
    ChaosOverheadInterleaved.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 150);
    return;
}

if (args is ["hunt-cost", ..])
{
    // Not BenchmarkDotNet: see HuntCost.
    HuntCost.Run(args[1..]);
    return;
}

if (args is ["recycle-loop", ..])
{
    // Not BenchmarkDotNet: see PostgresRecycleLoop.
    PostgresRecycleLoop.Run(args[1..]);
    return;
}

// Every benchmark class in this assembly; pick with --filter. Figures go into issue notes as ratios.
// The build timeout is raised from BenchmarkDotNet's 120 s: on a loaded 2-core machine building the benchmark process alone
// took longer, and the run then reported nothing.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly)
    .Run(args, ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(TimeSpan.FromMinutes(15)));
