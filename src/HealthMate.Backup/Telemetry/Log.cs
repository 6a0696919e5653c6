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

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Backup {BackupId} of {Kind}: the manifest write reported an error, but reading it back shows it stored; the backup is committed ({Reason})")]
    internal static partial void ManifestCommitSettled(ILogger logger, string backupId, string kind, string reason);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "Backup {BackupId} of {Kind}: whether the manifest was stored could not be settled; its data is kept, for retention to remove if no manifest names it")]
    internal static partial void ManifestCommitUnsettled(ILogger logger, Exception? exception, string backupId, string kind);

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

    [LoggerMessage(EventId = 1202, Level = LogLevel.Error, Message = "The verification record of backup {BackupId} could not be stored")]
    internal static partial void VerificationRecordFailed(ILogger logger, Exception exception, string backupId);

    [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Manifest {ManifestKey} was skipped while listing: {Problem}")]
    internal static partial void ManifestRejected(ILogger logger, string manifestKey, string problem);

    [LoggerMessage(EventId = 1500, Level = LogLevel.Information, Message = "Job {Job} started for {ScheduledAt:O} (fencing token {FencingToken})")]
    internal static partial void JobStarted(ILogger logger, string job, DateTimeOffset scheduledAt, long fencingToken);

    [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Job {Job} for {ScheduledAt:O} succeeded in {ElapsedMs} ms: {Summary}")]
    internal static partial void JobSucceeded(ILogger logger, string job, DateTimeOffset scheduledAt, long elapsedMs, string summary);

    [LoggerMessage(EventId = 1502, Level = LogLevel.Error, Message = "Job {Job} for {ScheduledAt:O} ended {Outcome}")]
    internal static partial void JobFailed(ILogger logger, Exception? exception, string job, DateTimeOffset scheduledAt, Scheduling.JobOutcome outcome);

    [LoggerMessage(EventId = 1503, Level = LogLevel.Warning, Message = "Job {Job} skipped {Count} scheduled time(s) that passed while it was running (runs never overlap)")]
    internal static partial void JobOccurrencesSkipped(ILogger logger, string job, int count);

    [LoggerMessage(EventId = 1504, Level = LogLevel.Warning, Message = "Job {Job} missed its run at {ScheduledAt:O} while no host ran it; running it once now")]
    internal static partial void JobMissedRunStarting(ILogger logger, string job, DateTimeOffset scheduledAt);

    [LoggerMessage(EventId = 1505, Level = LogLevel.Warning, Message = "Job {Job} missed its run at {ScheduledAt:O} while no host ran it; skipped (MissedRuns = Skip)")]
    internal static partial void JobMissedRunSkipped(ILogger logger, string job, DateTimeOffset scheduledAt);

    [LoggerMessage(EventId = 1506, Level = LogLevel.Debug, Message = "Job {Job} for {ScheduledAt:O} already ran on {Host}")]
    internal static partial void JobAlreadyRan(ILogger logger, string job, DateTimeOffset scheduledAt, string host);

    [LoggerMessage(EventId = 1507, Level = LogLevel.Warning, Message = "Job {Job} could not reach its lease; will retry")]
    internal static partial void JobLeaseUnavailable(ILogger logger, Exception exception, string job);

    [LoggerMessage(EventId = 1508, Level = LogLevel.Error, Message = "Lease {Lease} (fencing token {FencingToken}) was lost during a run; the run stops before committing")]
    internal static partial void JobLeaseLost(ILogger logger, string lease, long fencingToken);

    [LoggerMessage(EventId = 1520, Level = LogLevel.Warning, Message = "Lease {Lease}: record {Sequence} cannot be authenticated ({Problem}); it is not a grant, and this host takes the lease over only after seeing it unchanged for {WaitMs} ms")]
    internal static partial void LeaseRecordUnauthenticated(ILogger logger, string lease, long sequence, string problem, long waitMs);

    [LoggerMessage(EventId = 1521, Level = LogLevel.Error, Message = "Lease {Lease} (fencing token {FencingToken}) is treated as lost: record {Sequence} above its own cannot be authenticated ({Problem})")]
    internal static partial void LeaseLostToUnauthenticatedRecord(ILogger logger, string lease, long fencingToken, long sequence, string problem);

    [LoggerMessage(EventId = 1509, Level = LogLevel.Warning, Message = "Job {Job}'s run records cannot be read")]
    internal static partial void JobRecordsUnreadable(ILogger logger, Exception exception, string job);

    [LoggerMessage(EventId = 1510, Level = LogLevel.Error, Message = "Job {Job}'s run could not be recorded")]
    internal static partial void JobRecordsUnwritable(ILogger logger, Exception exception, string job);

    [LoggerMessage(EventId = 1600, Level = LogLevel.Information, Message = "Retention deleted backup {Kind}/{BackupId}: {Reason}")]
    internal static partial void RetentionDeleted(ILogger logger, string kind, string backupId, string reason);

    [LoggerMessage(EventId = 1601, Level = LogLevel.Information, Message = "Retention finished: {Backups} backups, {ArchiveObjects} archive objects and {Incomplete} incomplete uploads deleted, {Kept} backups kept")]
    internal static partial void RetentionApplied(ILogger logger, int backups, int archiveObjects, int incomplete, int kept);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Warning, Message = "Retention removed incomplete upload {Key} (no manifest, older than the grace period)")]
    internal static partial void IncompleteUploadRemoved(ILogger logger, string key);

    [LoggerMessage(EventId = 1700, Level = LogLevel.Warning, Message = "Backup health: {Kind}/{Plan} {Status}: {Problems}")]
    internal static partial void BackupHealthProblem(ILogger logger, string kind, string plan, string status, string problems);

    [LoggerMessage(EventId = 1800, Level = LogLevel.Warning, Message = "Component {Component} is {State} (was {Previous}): {Description}")]
    internal static partial void ComponentStateChanged(ILogger logger, string component, string state, string previous, string description);

    [LoggerMessage(EventId = 1801, Level = LogLevel.Error, Message = "Probe {Probe} threw instead of answering")]
    internal static partial void ProbeThrew(ILogger logger, string probe, Exception exception);

    [LoggerMessage(EventId = 1810, Level = LogLevel.Warning, Message = "Failover of {Component}: {Outcome}: {Reason}")]
    internal static partial void FailoverDecided(ILogger logger, string component, string outcome, string reason);

    [LoggerMessage(EventId = 1811, Level = LogLevel.Error, Message = "Failover decision for {Component} failed")]
    internal static partial void FailoverDecisionFailed(ILogger logger, string component, Exception exception);

    [LoggerMessage(EventId = 1812, Level = LogLevel.Warning, Message = "Endpoint of {Component} is now {Address}: {Reason}")]
    internal static partial void EndpointChanged(ILogger logger, string component, string address, string reason);

    [LoggerMessage(EventId = 1813, Level = LogLevel.Warning, Message = "Approval {ApprovalId} requested: {Subject}: {Description}")]
    internal static partial void ApprovalRequested(ILogger logger, string approvalId, string subject, string description);

    [LoggerMessage(EventId = 1820, Level = LogLevel.Information, Message = "Playbook {Playbook} run {RunId} ({Mode}) step {Step}: {Outcome} after {Attempts} attempt(s): {Output}")]
    internal static partial void PlaybookStep(ILogger logger, string playbook, string runId, string mode, string step, string outcome, int attempts, string output);

    [LoggerMessage(EventId = 1821, Level = LogLevel.Warning, Message = "Playbook {Playbook} run {RunId} ({Mode}) ended {Outcome} in {ElapsedMs} ms")]
    internal static partial void PlaybookFinished(ILogger logger, string playbook, string runId, string mode, string outcome, long elapsedMs);

    [LoggerMessage(EventId = 1822, Level = LogLevel.Error, Message = "Playbook {Playbook} run {RunId} could not be recorded")]
    internal static partial void PlaybookRecordFailed(ILogger logger, string playbook, string runId, Exception exception);
}
