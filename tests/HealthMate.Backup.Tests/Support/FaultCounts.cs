namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// Where the fault-injection tests leave their counts (faults injected, items acknowledged, lost, false successes): one
/// line per suite in <c>fault-counts/</c> beside the test binaries; scripts/test.sh prints them after the run, and
/// docs/reliability.md quotes them.
/// </summary>
internal static class FaultCounts
{
    internal static void Write(string suite, string line)
    {
        var folder = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "fault-counts")).FullName;
        File.WriteAllText(Path.Combine(folder, suite + ".txt"), $"{suite}: {line}\n");
    }
}
