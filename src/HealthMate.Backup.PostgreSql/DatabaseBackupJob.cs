using System.Globalization;
using HealthMate.Backup.Scheduling;

namespace HealthMate.Backup.PostgreSql;

/// <summary>The <c>database-backup</c> job: a logical (pg_dump) or physical (pg_basebackup) backup of the configured
/// database under the plan <c>scheduled</c>, committed only while the job holds its lease.</summary>
internal sealed class DatabaseBackupJob(IBackupRunner runner, Func<IBackupSource> createSource) : IScheduledJob
{
    internal const string Plan = "scheduled";

    public string Name => JobSchedule.Names.DatabaseBackup;

    public async Task<string?> RunAsync(ScheduledJobContext context, CancellationToken cancellationToken)
    {
        var request = new BackupRequest { Plan = Plan, BeforeCommit = context.EnsureLeaseAsync };
        var result = await runner.RunAsync(createSource(), request, null, cancellationToken).ConfigureAwait(false);
        return string.Create(CultureInfo.InvariantCulture, $"{result.Manifest.Kind} backup {result.Manifest.BackupId} of '{result.Manifest.Name}' committed: {result.Manifest.Data.StoredSize} bytes stored");
    }
}
