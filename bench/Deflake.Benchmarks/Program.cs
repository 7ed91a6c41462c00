using BenchmarkDotNet.Running;

// Every benchmark class in this assembly; pick with --filter. Figures go into issue notes as ratios.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
