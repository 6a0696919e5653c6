namespace HealthMate.Backup.Scheduling;

/// <summary>What to do with runs a job missed while no host was running it.</summary>
public enum MissedRunPolicy
{
    /// <summary>Run once, as soon as a host starts, for the most recent missed time (never once per missed time).</summary>
    RunOnce = 0,

    /// <summary>Skip missed runs and wait for the next scheduled time.</summary>
    Skip = 1,
}

/// <summary>Which leader lease keeps replicas of a host from running the same job twice.</summary>
public enum JobLeaseKind
{
    /// <summary>The lease kept in the backup storage (put-if-absent records), needing no database.</summary>
    Storage = 0,

    /// <summary>A lease from a registered <see cref="HealthMate.Backup.Leases.ILeaseProvider"/> (such as the
    /// PostgreSQL advisory-lock lease added by <c>AddPostgreSqlLease()</c>).</summary>
    Registered = 1,

    /// <summary>No lease: for a single host only.</summary>
    None = 2,
}

/// <summary>The <c>BackupDR:Schedules</c> section: cron schedules for the backup jobs, run as a hosted service.</summary>
public sealed class SchedulingOptions
{
    /// <summary>Gets or sets whether scheduled jobs run.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets which lease keeps replicas from running a job twice.</summary>
    /// <value>The default value is <see cref="JobLeaseKind.Storage"/>.</value>
    public JobLeaseKind Lease { get; set; } = JobLeaseKind.Storage;

    /// <summary>Gets or sets how long a job's lease lasts without renewal; the holder renews it every third of this.
    /// A host that dies is replaced after about this long. From 5 seconds to 1 hour.</summary>
    /// <value>The default value is 60 seconds.</value>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Gets or sets the time zone of cron schedules that name none (an IANA or Windows id).</summary>
    /// <value>The default value is <c>UTC</c>.</value>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>Gets or sets the jobs' schedules by job name; a job not listed uses its built-in default
    /// (<see cref="JobSchedule.Defaults"/>).</summary>
    public Dictionary<string, JobSchedule> Jobs { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Gets a job's schedule: its configured entry over its built-in default.</summary>
    /// <param name="jobName">The job's name.</param>
    /// <returns>The effective schedule, or <see langword="null"/> when the job has neither.</returns>
    public JobSchedule? Resolve(string jobName)
    {
        JobSchedule.Defaults.TryGetValue(jobName, out var builtIn);
        if (!Jobs.TryGetValue(jobName, out var configured))
        {
            return builtIn;
        }

        return configured with { Cron = configured.Cron ?? builtIn?.Cron };
    }
}

/// <summary>When and how one job runs.</summary>
public sealed record JobSchedule
{
    /// <summary>The names of the built-in jobs.</summary>
    public static class Names
    {
        /// <summary>The database backup (the PostgreSQL package's job).</summary>
        public const string DatabaseBackup = "database-backup";

        /// <summary>The file backup of <c>BackupDR:Files:Paths</c>.</summary>
        public const string FileBackup = "file-backup";

        /// <summary>Retention: prune old backups and WAL, clean up incomplete uploads.</summary>
        public const string Cleanup = "cleanup";

        /// <summary>The backup health report (RPO compliance, missing backups).</summary>
        public const string BackupHealth = "backup-health";

        /// <summary>Verification of recent backups.</summary>
        public const string Verify = "verify";

        /// <summary>The disaster-recovery readiness score ("DR status").</summary>
        public const string DrStatus = "dr-status";

        /// <summary>Recovery-objective tracking: the compliance report of recent recoveries and drills.</summary>
        public const string RecoveryObjectives = "recovery-objectives";
    }

    /// <summary>Gets the product plan's schedules: database backup daily at 02:00, file backup Sunday 03:00, cleanup
    /// Sunday 04:00, backup health every 2 hours, verification daily at 05:00, DR status every hour, recovery-objective
    /// tracking every 6 hours.</summary>
    public static IReadOnlyDictionary<string, JobSchedule> Defaults { get; } = new Dictionary<string, JobSchedule>(StringComparer.Ordinal)
    {
        [Names.DatabaseBackup] = new() { Cron = "0 2 * * *", Timeout = TimeSpan.FromHours(6) },
        [Names.FileBackup] = new() { Cron = "0 3 * * 0", Timeout = TimeSpan.FromHours(12) },
        [Names.Cleanup] = new() { Cron = "0 4 * * 0", Timeout = TimeSpan.FromHours(2) },
        [Names.BackupHealth] = new() { Cron = "0 */2 * * *", Timeout = TimeSpan.FromMinutes(10), MissedRuns = MissedRunPolicy.Skip },
        [Names.Verify] = new() { Cron = "0 5 * * *", Timeout = TimeSpan.FromHours(6) },
        [Names.DrStatus] = new() { Cron = "0 * * * *", Timeout = TimeSpan.FromMinutes(5), MissedRuns = MissedRunPolicy.Skip },
        [Names.RecoveryObjectives] = new() { Cron = "0 */6 * * *", Timeout = TimeSpan.FromMinutes(5), MissedRuns = MissedRunPolicy.Skip },
    };

    /// <summary>Gets or sets the cron expression: five fields (minute hour day month weekday), or six with seconds first.</summary>
    public string? Cron { get; init; }

    /// <summary>Gets or sets the schedule's time zone (IANA or Windows id), or <see langword="null"/> for <see cref="SchedulingOptions.TimeZone"/>.</summary>
    public string? TimeZone { get; init; }

    /// <summary>Gets or sets whether the job runs on its schedule.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; init; } = true;

    /// <summary>Gets or sets the most by which a run starts after its time, chosen at random each time, so many hosts
    /// or many deployments do not hit a store at the same second. From zero to one hour.</summary>
    /// <value>The default value is zero.</value>
    public TimeSpan Jitter { get; init; }

    /// <summary>Gets or sets what to do with runs missed while no host ran the job.</summary>
    /// <value>The default value is <see cref="MissedRunPolicy.RunOnce"/>.</value>
    public MissedRunPolicy MissedRuns { get; init; } = MissedRunPolicy.RunOnce;

    /// <summary>Gets or sets how long a run may take before it is cancelled (and recorded as timed out). From one second to 7 days.</summary>
    /// <value>The default value is 6 hours.</value>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromHours(6);
}
