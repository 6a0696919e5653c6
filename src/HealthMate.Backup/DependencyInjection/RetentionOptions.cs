namespace HealthMate.Backup;

/// <summary>How long backups are kept (the plan's <c>backup_retention_days</c>). Applied by retention and prune.</summary>
public sealed class RetentionOptions
{
    /// <summary>Gets or sets how many days backups are kept, from 1 to 36,500.</summary>
    /// <value>The default value is 30.</value>
    public int Days { get; set; } = 30;
}
