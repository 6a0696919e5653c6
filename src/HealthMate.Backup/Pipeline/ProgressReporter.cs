namespace HealthMate.Backup.Pipeline;

/// <summary>Counts bytes and reports progress at most every quarter second, and once at the end.</summary>
internal sealed class ProgressReporter(IProgress<PipelineProgress>? progress, TimeProvider timeProvider)
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    private readonly long _started = timeProvider.GetTimestamp();
    private long _lastReport;
    private long _bytesRead;
    private long _bytesWritten;

    internal long BytesRead => Interlocked.Read(ref _bytesRead);

    internal long BytesWritten => Interlocked.Read(ref _bytesWritten);

    internal TimeSpan Elapsed => timeProvider.GetElapsedTime(_started);

    internal void AddRead(long count) => Interlocked.Add(ref _bytesRead, count);

    internal void AddWritten(PipelineStage stage, long count)
    {
        Interlocked.Add(ref _bytesWritten, count);
        if (progress is null)
        {
            return;
        }

        var now = timeProvider.GetTimestamp();
        var last = Interlocked.Read(ref _lastReport);
        if (timeProvider.GetElapsedTime(last, now) >= Interval && Interlocked.CompareExchange(ref _lastReport, now, last) == last)
        {
            Report(stage);
        }
    }

    internal void Report(PipelineStage stage) => progress?.Report(new PipelineProgress(stage, BytesRead, BytesWritten, Elapsed));
}
