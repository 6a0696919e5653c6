namespace HealthMate.Backup;

/// <summary>A pipeline stage failed; the run was aborted and nothing it wrote became visible.</summary>
public sealed class BackupStageException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="BackupStageException"/> class.</summary>
    /// <param name="stage">The stage that failed.</param>
    /// <param name="operation">The operation, such as <c>backup</c> or <c>restore</c>.</param>
    /// <param name="innerException">The stage's error.</param>
    public BackupStageException(PipelineStage stage, string operation, Exception innerException)
        : base($"The {operation} failed in stage '{stage}': {innerException?.Message}", innerException)
    {
        Stage = stage;
    }

    /// <summary>Gets the stage that failed.</summary>
    public PipelineStage Stage { get; }
}
