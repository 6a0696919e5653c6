using System.Globalization;
using HealthMate.Backup.Catalog;

namespace HealthMate.Backup.Retention;

/// <summary>The pure part of retention: from the catalog, the policies, the test-restored backups and a clock, who stays.</summary>
internal static class RetentionPlanner
{
    internal static (List<RetentionDecision> Decisions, List<RetentionDecision> DeleteOrder) Plan(
        IReadOnlyList<BackupManifest> backups,
        RetentionOptions options,
        IReadOnlySet<string> testRestored,
        IReadOnlySet<string> archivedKinds,
        DateTimeOffset now)
    {
        var reasons = backups.ToDictionary(b => b.BackupId, _ => new List<string>(), StringComparer.Ordinal);
        var policySources = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in backups.GroupBy(b => (b.Kind, b.Plan, b.Name)))
        {
            var (policy, source) = options.Resolve(group.Key.Kind, group.Key.Plan);
            var newestFirst = group.OrderByDescending(b => b.CompletedAt).ThenByDescending(b => b.BackupId, StringComparer.Ordinal).ToList();
            foreach (var b in newestFirst)
            {
                policySources[b.BackupId] = source;
            }

            reasons[newestFirst[0].BackupId].Add("newest backup");
            if (newestFirst.FirstOrDefault(b => testRestored.Contains(b.BackupId)) is { } verified)
            {
                reasons[verified.BackupId].Add("newest backup that passed a test restore");
            }

            ApplyRules(newestFirst, policy, archivedKinds.Contains(group.Key.Kind), reasons, now);
        }

        // What a kept backup builds on stays: the full and differentials under an incremental, the full under a differential.
        var byId = backups.ToDictionary(b => b.BackupId, StringComparer.Ordinal);
        foreach (var backup in backups.OrderByDescending(b => b.BackupId, StringComparer.Ordinal))
        {
            if (reasons[backup.BackupId].Count == 0)
            {
                continue;
            }

            for (var child = backup; child.ParentId is { } parentId && byId.TryGetValue(parentId, out var parent); child = parent)
            {
                var reason = $"needed by {child.BackupId}";
                if (reasons[parent.BackupId].Contains(reason))
                {
                    break;
                }

                reasons[parent.BackupId].Add(reason);
            }
        }

        var decisions = backups
            .OrderBy(b => b.BackupId, StringComparer.Ordinal)
            .Select(b =>
            {
                var keep = reasons[b.BackupId].Count > 0;
                IReadOnlyList<string> why = keep ? reasons[b.BackupId] : [$"no rule of the {policySources[b.BackupId]} policy keeps it"];
                return new RetentionDecision(b.Kind, b.BackupId, b.Plan, b.Name, b.Type, b.CompletedAt, keep, why);
            })
            .ToList();

        // Dependents before what they depend on: deepest in its chain first, then newest first.
        var depth = new Dictionary<string, int>(StringComparer.Ordinal);
        int DepthOf(BackupManifest b)
        {
            if (depth.TryGetValue(b.BackupId, out var d))
            {
                return d;
            }

            depth[b.BackupId] = 0; // a cycle (forged parents) ends here
            d = b.ParentId is { } p && byId.TryGetValue(p, out var parent) ? DepthOf(parent) + 1 : 0;
            depth[b.BackupId] = d;
            return d;
        }

        var deleteOrder = decisions.Where(d => !d.Keep)
            .OrderByDescending(d => DepthOf(byId[d.BackupId]))
            .ThenByDescending(d => d.BackupId, StringComparer.Ordinal)
            .ToList();
        return (decisions, deleteOrder);
    }

    private static void ApplyRules(List<BackupManifest> newestFirst, RetentionPolicy policy, bool archived, Dictionary<string, List<string>> reasons, DateTimeOffset now)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(policy.TimeZone);
        if (policy.KeepLast is { } last)
        {
            foreach (var b in newestFirst.Take(last))
            {
                reasons[b.BackupId].Add($"one of the last {last}");
            }
        }

        Bucket(newestFirst, policy.KeepHourly, "hourly", t => t.ToString("yyyy-MM-dd HH:00", CultureInfo.InvariantCulture), zone, reasons);
        Bucket(newestFirst, policy.KeepDaily, "daily", t => t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), zone, reasons);
        Bucket(newestFirst, policy.KeepWeekly, "weekly", t => $"{ISOWeek.GetYear(t):D4}-W{ISOWeek.GetWeekOfYear(t):D2}", zone, reasons);
        Bucket(newestFirst, policy.KeepMonthly, "monthly", t => t.ToString("yyyy-MM", CultureInfo.InvariantCulture), zone, reasons);
        Bucket(newestFirst, policy.KeepYearly, "yearly", t => t.ToString("yyyy", CultureInfo.InvariantCulture), zone, reasons);

        if (policy.KeepWithin is { } within)
        {
            foreach (var b in newestFirst.Where(b => b.CompletedAt >= now - within))
            {
                reasons[b.BackupId].Add($"completed within {Describe(within)}");
            }
        }

        foreach (var b in newestFirst)
        {
            foreach (var tag in (b.Tags ?? []).Where(policy.KeepTags.Contains))
            {
                reasons[b.BackupId].Add($"tagged '{tag}'");
            }
        }

        // Every point inside the window must be reachable: keep the newest backup from before the window's start.
        if (archived && (policy.PointInTimeWindow ?? policy.KeepWithin) is { } window
            && newestFirst.FirstOrDefault(b => b.CompletedAt <= now - window) is { } anchor)
        {
            reasons[anchor.BackupId].Add($"starts the {Describe(window)} point-in-time window");
        }
    }

    private static void Bucket(List<BackupManifest> newestFirst, int? count, string rule, Func<DateTime, string> bucketOf, TimeZoneInfo zone, Dictionary<string, List<string>> reasons)
    {
        if (count is not { } n)
        {
            return;
        }

        string? previous = null;
        var kept = 0;
        foreach (var b in newestFirst)
        {
            var bucket = bucketOf(TimeZoneInfo.ConvertTime(b.CompletedAt, zone).DateTime);
            if (bucket == previous)
            {
                continue;
            }

            previous = bucket;
            if (kept++ >= n)
            {
                break;
            }

            reasons[b.BackupId].Add($"{rule} {bucket}");
        }
    }

    private static string Describe(TimeSpan span) =>
        span.TotalDays >= 1 && span.Ticks % TimeSpan.TicksPerDay == 0 ? $"{span.TotalDays:0} days"
        : span.TotalHours >= 1 && span.Ticks % TimeSpan.TicksPerHour == 0 ? $"{span.TotalHours:0} hours"
        : span.ToString();
}
