namespace HealthMate.Backup.Health;

/// <summary>A recovery objective: the most time to recover (RTO) and the most data that may be lost (RPO).</summary>
public sealed class RecoveryObjective
{
    /// <summary>Gets or sets the recovery time objective.</summary>
    public TimeSpan Rto { get; set; }

    /// <summary>Gets or sets the recovery point objective.</summary>
    public TimeSpan Rpo { get; set; }
}

/// <summary>The <c>BackupDR:Objectives</c> section: recovery objectives per tier (the product plan's, in minutes:
/// critical 15/5, high 60/15, medium 240/60, low 1440/240).</summary>
public sealed class RecoveryObjectivesOptions
{
    /// <summary>Gets or sets the objectives by tier name.</summary>
    public Dictionary<string, RecoveryObjective> Tiers { get; set; } = new(StringComparer.Ordinal)
    {
        ["critical"] = new() { Rto = TimeSpan.FromMinutes(15), Rpo = TimeSpan.FromMinutes(5) },
        ["high"] = new() { Rto = TimeSpan.FromMinutes(60), Rpo = TimeSpan.FromMinutes(15) },
        ["medium"] = new() { Rto = TimeSpan.FromMinutes(240), Rpo = TimeSpan.FromMinutes(60) },
        ["low"] = new() { Rto = TimeSpan.FromMinutes(1440), Rpo = TimeSpan.FromMinutes(240) },
    };
}

/// <summary>What is expected of the backups of one kind (and plan): the health report checks it.</summary>
public sealed class BackupHealthTarget
{
    /// <summary>Gets or sets the backup kind (such as <c>postgres</c>, <c>postgres-base</c>, <c>files</c>).</summary>
    public string Kind { get; set; } = string.Empty;

    /// <summary>Gets or sets the plan, or <see langword="null"/> for backups of the kind taken outside a plan.</summary>
    public string? Plan { get; set; }

    /// <summary>Gets or sets the tier whose RPO the newest recovery point must meet (<c>critical</c>, <c>high</c>,
    /// <c>medium</c>, <c>low</c>), or <see langword="null"/> to check no RPO.</summary>
    public string? Tier { get; set; }

    /// <summary>Gets or sets how often a backup is expected (a nightly job: one day); a newest backup older than this
    /// plus <see cref="Grace"/> is reported missing. <see langword="null"/> checks nothing.</summary>
    public TimeSpan? ExpectedEvery { get; set; }

    /// <summary>Gets or sets how late a backup may be before it counts as missing.</summary>
    /// <value>The default value is 2 hours.</value>
    public TimeSpan Grace { get; set; } = TimeSpan.FromHours(2);

    /// <summary>Gets or sets the scheduled job that takes these backups, whose runs give the success rate, or <see langword="null"/>.</summary>
    public string? Job { get; set; }

    /// <summary>Gets or sets how old the newest passing verification may be before the group is degraded, or <see langword="null"/>.</summary>
    public TimeSpan? VerifiedWithin { get; set; }
}

/// <summary>The <c>BackupDR:Health</c> section: what the backup health report expects.</summary>
public sealed class BackupHealthOptions
{
    /// <summary>Gets or sets the targets; groups in storage that no target names are reported without objectives.</summary>
    public List<BackupHealthTarget> Targets { get; set; } = [];

    /// <summary>Gets or sets the window of the success rate and the size trend.</summary>
    /// <value>The default value is 7 days.</value>
    public TimeSpan Window { get; set; } = TimeSpan.FromDays(7);
}

/// <summary>The newest point an archive can restore to, for kinds whose backups are continued by one (PostgreSQL WAL).</summary>
public interface IRecoveryPointSource
{
    /// <summary>Gets the backup kind the archive continues.</summary>
    string Kind { get; }

    /// <summary>Gets the time of the newest archived object, or <see langword="null"/> when the archive is empty.</summary>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The newest recovery point.</returns>
    ValueTask<DateTimeOffset?> GetLatestAsync(CancellationToken cancellationToken = default);
}
