using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace HealthMate.Backup.Pipeline;

/// <summary>Turns what a stage threw into the error a caller sees.</summary>
internal static class PipelineErrors
{
    /// <summary>Integrity and key errors surface as themselves (they already say what and where); anything else becomes a
    /// <see cref="BackupStageException"/> naming the stage.</summary>
    internal static Exception Map(Exception exception, string operation, PipelineStage fallbackStage)
    {
        var stage = fallbackStage;
        var error = exception;
        while (true)
        {
            switch (error)
            {
                case ChannelClosedException { InnerException: { } inner }:
                    error = inner;
                    continue;
                case StageFailure failure:
                    stage = failure.Stage;
                    error = failure.InnerException!;
                    continue;
            }

            break;
        }

        return error switch
        {
            BackupIntegrityException or WrongKeyException or BackupKeyNotFoundException or BackupStageException or HealthMate.Backup.Leases.LeaseLostException or OperationCanceledException => error,
            _ => new BackupStageException(stage, operation, error),
        };
    }

    /// <summary>The stage an error names, for logs.</summary>
    internal static PipelineStage StageOf(Exception exception, PipelineStage fallbackStage) => exception switch
    {
        StageFailure failure => failure.Stage,
        BackupStageException stageException => stageException.Stage,
        ChannelClosedException { InnerException: { } inner } => StageOf(inner, fallbackStage),
        _ => fallbackStage,
    };

    internal static Exception Throw(Exception exception)
    {
        ExceptionDispatchInfo.Capture(exception).Throw();
        return exception;
    }
}
