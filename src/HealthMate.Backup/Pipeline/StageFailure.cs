namespace HealthMate.Backup.Pipeline;

/// <summary>Carries a stage's exception to the runner, which turns it into the public error. Never escapes the library.</summary>
internal sealed class StageFailure(PipelineStage stage, Exception inner) : Exception(inner.Message, inner)
{
    internal PipelineStage Stage { get; } = stage;

    /// <summary>Tags an exception with the stage it happened in, unless it is already tagged or is a cancellation.</summary>
    internal static Exception Tag(PipelineStage stage, Exception exception) =>
        exception is StageFailure or OperationCanceledException ? exception : new StageFailure(stage, exception);
}
