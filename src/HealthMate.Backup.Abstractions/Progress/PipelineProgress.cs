namespace HealthMate.Backup;

/// <summary>A progress report of a backup, restore or verify run.</summary>
/// <param name="Stage">The stage the run is in.</param>
/// <param name="BytesRead">Bytes read so far: from the source for a backup, from storage for a restore or verify.</param>
/// <param name="BytesWritten">Bytes written so far: to storage for a backup, to the target for a restore.</param>
/// <param name="Elapsed">Time since the run started.</param>
public readonly record struct PipelineProgress(PipelineStage Stage, long BytesRead, long BytesWritten, TimeSpan Elapsed)
{
    /// <summary>Gets the average rate of <see cref="BytesRead"/> so far, in bytes per second.</summary>
    public double BytesPerSecond => Elapsed > TimeSpan.Zero ? BytesRead / Elapsed.TotalSeconds : 0;
}
