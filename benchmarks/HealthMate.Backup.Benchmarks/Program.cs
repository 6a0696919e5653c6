// Stage benchmarks (BenchmarkDotNet):  dotnet run -c Release --project benchmarks/HealthMate.Backup.Benchmarks -- --filter '*'
// End-to-end harness:                  dotnet run -c Release --project benchmarks/HealthMate.Backup.Benchmarks -- e2e --corpus /tmp/hm-corpus/files.tar
// Failover drills (crash to first write): dotnet run -c Release --project benchmarks/HealthMate.Backup.Benchmarks -- failover --drills 10
using BenchmarkDotNet.Running;
using HealthMate.Backup.Benchmarks;

if (args.Length > 0 && args[0] == "alloc")
{
    return AllocationProbe.Run();
}

if (args.Length > 0 && args[0] == "failover")
{
    return await FailoverBenchmark.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "e2e")
{
    return await EndToEnd.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(StageData).Assembly).Run(args);
return 0;
