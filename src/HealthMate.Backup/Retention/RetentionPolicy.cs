namespace HealthMate.Backup.Retention;

/// <summary>
/// Which backups of one group (same kind, plan and source name) to keep; a backup is kept if any rule keeps it
/// (the rules of restic's <c>forget</c>). Calendar rules keep the newest backup of each of the last N hours, days,
/// ISO weeks, months or years that have a backup, in <see cref="TimeZone"/>.
/// </summary>
public sealed class RetentionPolicy
{
    /// <summary>Gets or sets how many of the newest backups to keep.</summary>
    public int? KeepLast { get; set; }

    /// <summary>Gets or sets for how many of the last hours with a backup to keep the newest of that hour.</summary>
    public int? KeepHourly { get; set; }

    /// <summary>Gets or sets for how many of the last days with a backup to keep the newest of that day.</summary>
    public int? KeepDaily { get; set; }

    /// <summary>Gets or sets for how many of the last ISO weeks with a backup to keep the newest of that week.</summary>
    public int? KeepWeekly { get; set; }

    /// <summary>Gets or sets for how many of the last months with a backup to keep the newest of that month.</summary>
    public int? KeepMonthly { get; set; }

    /// <summary>Gets or sets for how many of the last years with a backup to keep the newest of that year.</summary>
    public int? KeepYearly { get; set; }

    /// <summary>Gets or sets a duration: backups completed within it (before now) are kept.</summary>
    public TimeSpan? KeepWithin { get; set; }

    /// <summary>Gets or sets tags: a backup carrying any of them is kept.</summary>
    public List<string> KeepTags { get; set; } = [];

    /// <summary>Gets or sets how far back every point in time must stay restorable, for kinds backed by an archive
    /// (PostgreSQL base backups and WAL): the newest backup completed before the window's start is kept too, and the
    /// archive from it on. <see langword="null"/> uses <see cref="KeepWithin"/>.</summary>
    public TimeSpan? PointInTimeWindow { get; set; }

    /// <summary>Gets or sets the time zone of the calendar rules (an IANA or Windows id).</summary>
    /// <value>The default value is <c>UTC</c>.</value>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>Gets whether the policy has at least one keep rule.</summary>
    public bool HasRules => KeepLast is not null || KeepHourly is not null || KeepDaily is not null || KeepWeekly is not null
        || KeepMonthly is not null || KeepYearly is not null || KeepWithin is not null || KeepTags.Count > 0;

    /// <summary>Lists the policy's problems (empty when valid).</summary>
    /// <returns>The problems.</returns>
    public IEnumerable<string> Validate()
    {
        if (!HasRules)
        {
            yield return "has no keep rule (set KeepLast, KeepDaily, KeepWithin, ... or KeepTags); an empty policy would keep only the newest backup";
        }

        foreach (var (name, value) in new[] { ("KeepLast", KeepLast), ("KeepHourly", KeepHourly), ("KeepDaily", KeepDaily), ("KeepWeekly", KeepWeekly), ("KeepMonthly", KeepMonthly), ("KeepYearly", KeepYearly) })
        {
            if (value is < 1 or > 100_000)
            {
                yield return $"{name} must be from 1 to 100000 (or unset), not {value}";
            }
        }

        if (KeepWithin is { } within && within <= TimeSpan.Zero)
        {
            yield return $"KeepWithin must be positive, not {within}";
        }

        if (PointInTimeWindow is { } window && window <= TimeSpan.Zero)
        {
            yield return $"PointInTimeWindow must be positive, not {window}";
        }

        if (!TimeZoneInfo.TryFindSystemTimeZoneById(TimeZone, out _))
        {
            yield return $"TimeZone '{TimeZone}' is not a time zone known to this system";
        }
    }
}
