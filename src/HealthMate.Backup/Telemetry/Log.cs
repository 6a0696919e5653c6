using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Telemetry;

/// <summary>Log messages with fixed event ids. No message takes a key, passphrase or connection string.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Backup {BackupId} of {Kind} '{Name}' ({Type}) started")]
    internal static partial void BackupStarted(ILogger logger, string backupId, string kind, string name, BackupType type);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Backup {BackupId} of {Kind} committed: {PlaintextBytes} bytes in, {StoredBytes} bytes stored, in {ElapsedMs} ms")]
    internal static partial void BackupCompleted(ILogger logger, string backupId, string kind, long plaintextBytes, long storedBytes, long elapsedMs);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Backup {BackupId} of {Kind} failed in stage {Stage}; nothing was committed")]
    internal static partial void BackupFailed(ILogger logger, Exception exception, string backupId, string kind, PipelineStage stage);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Backup {BackupId} of {Kind} was cancelled; nothing was committed")]
    internal static partial void BackupCancelled(ILogger logger, string backupId, string kind);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "Could not remove the data object of failed backup {BackupId}; it has no manifest and will be cleaned up as an incomplete upload")]
    internal static partial void DataCleanupFailed(ILogger logger, Exception exception, string backupId);

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Restore of backup {BackupId} ({Kind}) started")]
    internal static partial void RestoreStarted(ILogger logger, string backupId, string kind);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Restore of backup {BackupId} completed: {Bytes} bytes in {ElapsedMs} ms")]
    internal static partial void RestoreCompleted(ILogger logger, string backupId, long bytes, long elapsedMs);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "Restore of backup {BackupId} failed in stage {Stage}")]
    internal static partial void RestoreFailed(ILogger logger, Exception exception, string backupId, PipelineStage stage);

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Verification ({Level}) of backup {BackupId} passed: {Bytes} bytes checked")]
    internal static partial void VerifyPassed(ILogger logger, string backupId, VerificationLevel level, long bytes);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Error, Message = "Verification ({Level}) of backup {BackupId} FAILED: {Problem}")]
    internal static partial void VerifyFailed(ILogger logger, string backupId, VerificationLevel level, string problem);

    [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Manifest {ManifestKey} was skipped while listing: {Problem}")]
    internal static partial void ManifestRejected(ILogger logger, string manifestKey, string problem);
}
