using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace HealthMate.Backup.Telemetry;

/// <summary>The <see cref="ActivitySource"/> and <see cref="Meter"/> of HealthMate.Backup, both named <c>HealthMate.Backup</c>.</summary>
public static class BackupTelemetry
{
    /// <summary>The name of the activity source and the meter.</summary>
    public const string Name = "HealthMate.Backup";

    /// <summary>Gets the activity source: one activity per backup, restore and verify run.</summary>
    public static ActivitySource ActivitySource { get; } = new(Name);

    /// <summary>Gets the meter.</summary>
    public static Meter Meter { get; } = new(Name);

    /// <summary>Runs by operation (<c>backup</c>, <c>restore</c>, <c>verify</c>), kind and outcome (<c>success</c>, <c>failure</c>, <c>cancelled</c>).</summary>
    internal static Counter<long> Operations { get; } = Meter.CreateCounter<long>("healthmate.backup.operations", "{operation}", "Backup, restore and verify runs by outcome.");

    /// <summary>Run durations in seconds.</summary>
    internal static Histogram<double> Duration { get; } = Meter.CreateHistogram<double>("healthmate.backup.operation.duration", "s", "Duration of backup, restore and verify runs.");

    /// <summary>Bytes read from sources or storage.</summary>
    internal static Counter<long> BytesRead { get; } = Meter.CreateCounter<long>("healthmate.backup.bytes.read", "By", "Bytes read from sources (backup) or storage (restore, verify).");

    /// <summary>Bytes written to storage or targets.</summary>
    internal static Counter<long> BytesWritten { get; } = Meter.CreateCounter<long>("healthmate.backup.bytes.written", "By", "Bytes written to storage (backup) or restore targets (restore).");

    internal static void Record(string operation, string kind, string outcome, TimeSpan elapsed, long read, long written)
    {
        var tags = new TagList { { "operation", operation }, { "kind", kind }, { "outcome", outcome } };
        Operations.Add(1, tags);
        Duration.Record(elapsed.TotalSeconds, tags);
        BytesRead.Add(read, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("kind", kind));
        BytesWritten.Add(written, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("kind", kind));
    }

    /// <summary>Scheduled job runs by job and outcome.</summary>
    internal static Counter<long> JobRuns { get; } = Meter.CreateCounter<long>("healthmate.backup.job.runs", "{run}", "Scheduled job runs by job and outcome.");

    /// <summary>Scheduled job run durations in seconds.</summary>
    internal static Histogram<double> JobDuration { get; } = Meter.CreateHistogram<double>("healthmate.backup.job.duration", "s", "Duration of scheduled job runs.");

    /// <summary>Backups and WAL objects deleted by retention.</summary>
    internal static Counter<long> Pruned { get; } = Meter.CreateCounter<long>("healthmate.backup.pruned", "{object}", "Backups, WAL objects and incomplete uploads deleted by retention.");

    internal static void RecordJob(string job, Scheduling.JobOutcome outcome, TimeSpan elapsed)
    {
        var tags = new TagList { { "job", job }, { "outcome", outcome.ToString().ToLowerInvariant() } };
        JobRuns.Add(1, tags);
        JobDuration.Record(elapsed.TotalSeconds, tags);
    }
}
