using System.Globalization;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.FileTree;
using HealthMate.Backup.Health;
using HealthMate.Backup.Retention;
using HealthMate.Backup.Verification;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup.Scheduling;

/// <summary>The <c>cleanup</c> job: applies retention (backups, archive, incomplete uploads, old job records),
/// checking its lease before every delete.</summary>
internal sealed class CleanupJob(IBackupRetention retention) : IScheduledJob
{
    public string Name => JobSchedule.Names.Cleanup;

    public async Task<string?> RunAsync(ScheduledJobContext context, CancellationToken cancellationToken)
    {
        var result = await retention.ApplyAsync(context.EnsureLeaseAsync, cancellationToken).ConfigureAwait(false);
        return $"{result.DeletedBackups.Count} backups, {result.DeletedArchiveObjects} archive objects, {result.DeletedIncompleteUploads} incomplete uploads deleted; {result.Plan.Backups.Count - result.DeletedBackups.Count} backups kept";
    }
}

/// <summary>The <c>backup-health</c> job: makes the health report (which logs each problem and feeds the gauges) and
/// fails when a group is unhealthy, so a missing backup or an RPO breach shows in the job's records too.</summary>
internal sealed class BackupHealthJob(IBackupHealth health) : IScheduledJob
{
    public string Name => JobSchedule.Names.BackupHealth;

    public async Task<string?> RunAsync(ScheduledJobContext context, CancellationToken cancellationToken)
    {
        var report = await health.GetReportAsync(cancellationToken).ConfigureAwait(false);
        var problems = report.Groups.SelectMany(g => g.Problems.Select(p => $"{g.Kind}{(g.Plan is null ? string.Empty : "/" + g.Plan)}: {p}")).ToList();
        if (report.Status == ProbeStatus.Unhealthy)
        {
            throw new InvalidOperationException("Backups are unhealthy: " + string.Join("; ", problems));
        }

        return problems.Count == 0 ? $"{report.Groups.Count} backup group(s) healthy" : string.Join("; ", problems);
    }
}

/// <summary>The <c>verify</c> job: fully verifies (decrypt, authenticate, decompress, hash) the newest backup of every
/// group that has no passing verification yet; each result is stored as a verification record.</summary>
internal sealed class VerifyJob(IBackupCatalog catalog, IVerifyRunner verifier, IVerificationRecords records) : IScheduledJob
{
    private const int MaxPerRun = 20;

    public string Name => JobSchedule.Names.Verify;

    public async Task<string?> RunAsync(ScheduledJobContext context, CancellationToken cancellationToken)
    {
        var backups = await catalog.ListAsync(null, cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);

        int verified = 0, failed = 0;
        foreach (var newest in backups.GroupBy(b => (b.Kind, b.Plan, b.Name)).Select(g => g.MaxBy(b => b.CompletedAt)!).Take(MaxPerRun))
        {
            var passed = false;
            await foreach (var record in records.ListAsync(newest.Kind, newest.BackupId, cancellationToken).ConfigureAwait(false))
            {
                passed |= record.Succeeded && record.Method is "full" or "deep" or "test-restore";
            }

            if (passed)
            {
                continue;
            }

            var result = await verifier.VerifyAsync(newest.BackupId, VerificationLevel.Full, null, cancellationToken).ConfigureAwait(false);
            verified++;
            failed += result.IsValid ? 0 : 1;
        }

        if (failed > 0)
        {
            throw new BackupIntegrityException($"{failed} of {verified} backups failed verification; see their verification records.");
        }

        return $"{verified} backups verified";
    }
}

/// <summary>The <c>file-backup</c> job: backs up <c>BackupDR:Files</c> under the plan <c>scheduled</c>, incremental on
/// the newest backup until <see cref="FileBackupOptions.IncrementalsPerFull"/> incrementals, then full.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class FileBackupJob(IBackupRunner runner, IBackupCatalog catalog, IOptions<BackupDROptions> options) : IScheduledJob
{
    internal const string Plan = "scheduled";

    public string Name => JobSchedule.Names.FileBackup;

    public async Task<string?> RunAsync(ScheduledJobContext context, CancellationToken cancellationToken)
    {
        var files = options.Value.Files;
        if (files.Paths.Count == 0)
        {
            return "no paths configured (BackupDR:Files:Paths); nothing to back up";
        }

        var sourceOptions = new FileTreeSourceOptions { MaxFileSize = files.MaxFileSizeMb * 1024L * 1024L };
        foreach (var path in files.Paths)
        {
            sourceOptions.Paths.Add(path);
        }

        foreach (var pattern in files.ExcludePatterns)
        {
            sourceOptions.Exclude.Add(pattern);
        }

        var chain = await catalog.ListAsync("files", cancellationToken).Where(m => m.Plan == Plan).ToListAsync(cancellationToken).ConfigureAwait(false);

        var newest = chain.LastOrDefault();
        var sinceFull = newest is null ? 0 : chain.Count - 1 - chain.FindLastIndex(b => b.Type == BackupType.Full);
        var request = newest is not null && sinceFull < files.IncrementalsPerFull
            ? new BackupRequest { Type = BackupType.Incremental, ParentId = newest.BackupId, Plan = Plan, BeforeCommit = context.EnsureLeaseAsync }
            : new BackupRequest { Plan = Plan, BeforeCommit = context.EnsureLeaseAsync };
        var result = await runner.RunAsync(BackupSources.FromFileTree(sourceOptions), request, null, cancellationToken).ConfigureAwait(false);
        return string.Create(CultureInfo.InvariantCulture, $"{request.Type.ToString().ToLowerInvariant()} backup {result.Manifest.BackupId} committed: {result.Manifest.Data.PlaintextSize} bytes in, {result.Manifest.Data.StoredSize} stored");
    }
}

/// <summary>The <c>dr-status</c> job: evaluates the readiness score (which feeds the <c>healthmate.backup.readiness.score</c>
/// gauge) and fails when the system is not ready, naming the factors that lower it.</summary>
internal sealed class DrStatusJob(Recovery.IReadiness readiness) : IScheduledJob
{
    public string Name => JobSchedule.Names.DrStatus;

    public async Task<string?> RunAsync(ScheduledJobContext context, CancellationToken cancellationToken)
    {
        var report = await readiness.EvaluateAsync(cancellationToken).ConfigureAwait(false);
        var lowering = string.Join("; ", report.Factors.Where(f => f.Weight > 0 && f.Score < 1).Select(f => $"{f.Name} {f.Score:0.##}: {f.Reason}"));
        var summary = $"readiness {report.Score:0.00}{(lowering.Length == 0 ? string.Empty : $" ({lowering})")}";
        return report.Ready ? summary : throw new InvalidOperationException($"Not ready for a disaster: {summary}");
    }
}

/// <summary>The <c>recovery-objectives</c> job: the compliance report of the recoveries and drills of the last 90 days;
/// fails when one missed its objectives.</summary>
internal sealed class RecoveryObjectivesJob(Recovery.IRecoveryRecords records, TimeProvider timeProvider) : IScheduledJob
{
    private static readonly TimeSpan Period = TimeSpan.FromDays(90);

    public string Name => JobSchedule.Names.RecoveryObjectives;

    public async Task<string?> RunAsync(ScheduledJobContext context, CancellationToken cancellationToken)
    {
        var report = await records.GetComplianceReportAsync(timeProvider.GetUtcNow() - Period, cancellationToken).ConfigureAwait(false);
        var lines = report.Entries.Select(e => $"{e.Kind} {e.Name}: {e.CompliantCount}/{e.Count} within objectives ({e.Drills} drills), RTO median {e.MedianRto?.TotalSeconds:0.#} s max {e.MaxRto?.TotalSeconds:0.#} s of {e.RtoObjective?.TotalSeconds:0} s").ToList();
        var summary = lines.Count == 0 ? "no recovery or drill in 90 days" : string.Join("; ", lines);
        return report.Compliant ? summary : throw new InvalidOperationException($"Recovery objectives missed: {summary}");
    }
}
