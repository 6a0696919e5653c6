using HealthMate.Backup.Compression;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup;

/// <summary>
/// The <c>BackupDR</c> configuration section. Its shape follows the product plan's configuration: encryption and
/// compression switches, storage, retention, and the file backup's paths, excludes and size limit.
/// Every problem is reported together when the host starts (see <see cref="BackupDROptionsValidator"/>).
/// </summary>
public sealed class BackupDROptions
{
    /// <summary>The configuration section name, <c>BackupDR</c>.</summary>
    public const string SectionName = "BackupDR";

    /// <summary>Gets or sets encryption and the keyring.</summary>
    public EncryptionOptions Encryption { get; set; } = new();

    /// <summary>Gets or sets compression.</summary>
    public CompressionOptions Compression { get; set; } = new();

    /// <summary>Gets or sets pipeline parallelism and buffering.</summary>
    public PipelineOptions Pipeline { get; set; } = new();

    /// <summary>Gets or sets where backups are stored.</summary>
    public StorageOptions Storage { get; set; } = new();

    /// <summary>Gets or sets how long backups are kept.</summary>
    public RetentionOptions Retention { get; set; } = new();

    /// <summary>Gets or sets what file backups include.</summary>
    public FileBackupOptions Files { get; set; } = new();

    /// <summary>Gets or sets the scheduled jobs (used once <c>AddBackupSchedules()</c> is called).</summary>
    public Scheduling.SchedulingOptions Schedules { get; set; } = new();

    /// <summary>Gets or sets the recovery objectives per tier.</summary>
    public Health.RecoveryObjectivesOptions Objectives { get; set; } = new();

    /// <summary>Gets or sets what the backup health report expects.</summary>
    public Health.BackupHealthOptions Health { get; set; } = new();

    /// <summary>Gets or sets how the health monitor probes components and decides they are down.</summary>
    public Health.HealthMonitorOptions Monitor { get; set; } = new();

    /// <summary>Gets or sets how components are failed over.</summary>
    public Failover.FailoverOptions Failover { get; set; } = new();

    /// <summary>Gets or sets the playbooks written in configuration and the settings of the built-in ones, by name.</summary>
    public Dictionary<string, Playbooks.PlaybookOptions> Playbooks { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Gets or sets how the readiness score is made.</summary>
    public Recovery.ReadinessOptions Readiness { get; set; } = new();
}
