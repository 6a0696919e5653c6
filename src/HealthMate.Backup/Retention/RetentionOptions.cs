using HealthMate.Backup.Retention;

namespace HealthMate.Backup;

/// <summary>
/// The <c>BackupDR:Retention</c> section: which backups are kept. A backup's policy is its plan's entry in
/// <see cref="Plans"/>, else its kind's entry in <see cref="Kinds"/>, else the default: keep
/// <see cref="Days"/> days (the plan's <c>backup_retention_days</c>). Whatever the policy, retention never deletes
/// what a kept backup depends on, the newest backup, or the newest backup that passed a test restore.
/// </summary>
public sealed class RetentionOptions
{
    /// <summary>Gets or sets how many days the default policy keeps backups, from 1 to 36,500.</summary>
    /// <value>The default value is 30.</value>
    public int Days { get; set; } = 30;

    /// <summary>Gets or sets policies by backup kind (such as <c>files</c> or <c>postgres-base</c>).</summary>
    public Dictionary<string, RetentionPolicy> Kinds { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Gets or sets policies by plan name (<see cref="BackupRequest.Plan"/>), over the kind's.</summary>
    public Dictionary<string, RetentionPolicy> Plans { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Gets or sets how old data without a manifest (an upload that failed or was cut off) must be before it
    /// is removed; it must exceed the longest backup run. From one hour to 30 days.</summary>
    /// <value>The default value is 24 hours.</value>
    public TimeSpan IncompleteUploadGrace { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Gets or sets how many days scheduled-job run records are kept, from 1 to 36,500.</summary>
    /// <value>The default value is 90.</value>
    public int JobRecordDays { get; set; } = 90;

    /// <summary>Gets the policy for backups of a kind and plan.</summary>
    /// <param name="kind">The backup kind.</param>
    /// <param name="plan">The plan, or <see langword="null"/>.</param>
    /// <returns>The effective policy and a name for reports (<c>plan nightly</c>, <c>kind files</c> or <c>default</c>).</returns>
    public (RetentionPolicy Policy, string Source) Resolve(string kind, string? plan)
    {
        if (plan is not null && Plans.TryGetValue(plan, out var byPlan))
        {
            return (byPlan, $"plan '{plan}'");
        }

        return Kinds.TryGetValue(kind, out var byKind)
            ? (byKind, $"kind '{kind}'")
            : (new RetentionPolicy { KeepWithin = TimeSpan.FromDays(Days) }, $"default ({Days} days)");
    }
}
