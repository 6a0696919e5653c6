using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Retention;

namespace HealthMate.Backup.Tests.Retention;

/// <summary>Properties of the retention planner over generated backup histories and policies.</summary>
public sealed class RetentionPlannerPropertyTests
{
    private static readonly DateTimeOffset Origin = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A generated history: steps of (group, type choice, minutes since the previous backup, tag, test-restored).</summary>
    public sealed record History(List<BackupManifest> Backups, RetentionOptions Options, HashSet<string> TestRestored, HashSet<string> Archived, DateTimeOffset Now);

    private static Arbitrary<History> Histories() =>
        (from steps in Gen.ListOf(
            from g in Gen.Choose(0, 2)
            from t in Gen.Choose(0, 9)
            from m in Gen.Choose(1, 60 * 30)
            from tag in Gen.Choose(0, 5)
            from v in Gen.Choose(0, 9)
            select (g, t, m, (tag, v)))
         from rules in Gen.ArrayOf(Gen.Choose(0, 4), 8)
         from within in Gen.Choose(0, 60)
         from pitr in Gen.Elements(true, false)
         from after in Gen.Choose(0, 60 * 24 * 20)
         select Build(steps, rules, within, pitr, after)).ToArbitrary();

    private static History Build(IEnumerable<(int Group, int Type, int Minutes, (int Tag, int Verified) Extra)> steps, int[] rules, int withinDays, bool pitr, int afterMinutes)
    {
        var backups = new List<BackupManifest>();
        var testRestored = new HashSet<string>(StringComparer.Ordinal);
        var time = Origin;
        var i = 0;
        foreach (var (group, type, minutes, (tag, verified)) in steps)
        {
            time = time.AddMinutes(minutes);
            var kind = group == 2 ? "postgres-base" : "files";
            var name = group == 1 ? "uploads" : "data";
            var same = backups.Where(b => b.Kind == kind && b.Name == name).ToList();
            BackupType backupType = same.Count == 0 || type < 3 ? BackupType.Full : type < 7 ? BackupType.Incremental : BackupType.Differential;
            var parent = backupType switch
            {
                BackupType.Incremental => same[^1].BackupId,
                BackupType.Differential => same.LastOrDefault(b => b.Type == BackupType.Full)?.BackupId,
                _ => null,
            };
            if (backupType == BackupType.Differential && parent is null)
            {
                backupType = BackupType.Full;
            }

            var id = $"{time.UtcDateTime:yyyyMMdd'T'HHmmssfff'Z'}-{i++:x8}";
            backups.Add(new BackupManifest
            {
                BackupId = id,
                Kind = kind,
                Name = name,
                Type = backupType,
                ParentId = parent,
                StartedAt = time.AddMinutes(-1),
                CompletedAt = time,
                Tags = tag == 0 ? ["keep-forever"] : null,
                Pipeline = new ManifestPipeline { Compression = "zstd", Encryption = "none" },
                Data = new ManifestData { Key = $"backups/{kind}/{id}/data", StoredSha256 = "00", PlaintextSha256 = "00" },
            });
            if (verified == 0)
            {
                testRestored.Add(id);
            }
        }

        int? Rule(int index) => rules[index] == 0 ? null : rules[index];
        var policy = new RetentionPolicy
        {
            KeepLast = Rule(0),
            KeepHourly = Rule(1),
            KeepDaily = Rule(2),
            KeepWeekly = Rule(3),
            KeepMonthly = Rule(4),
            KeepWithin = withinDays == 0 ? null : TimeSpan.FromDays(withinDays % 10 + 1),
            PointInTimeWindow = pitr ? TimeSpan.FromDays(3) : null,
            KeepTags = rules[5] == 0 ? ["keep-forever"] : [],
        };
        var options = new RetentionOptions { Days = 7 };
        if (policy.HasRules)
        {
            options.Kinds["files"] = policy;
        }

        options.Kinds["postgres-base"] = new RetentionPolicy { KeepLast = rules[6] + 1, PointInTimeWindow = TimeSpan.FromDays(rules[7] + 1) };
        return new History(backups, options, testRestored, new HashSet<string>(["postgres-base"], StringComparer.Ordinal), time.AddMinutes(afterMinutes));
    }

    private static (List<RetentionDecision> Decisions, List<RetentionDecision> Order) Plan(History h, IReadOnlyList<BackupManifest>? backups = null) =>
        RetentionPlanner.Plan(backups ?? h.Backups, h.Options, h.TestRestored, h.Archived, h.Now);

    /// <summary>Every kept backup's parent chain is kept.</summary>
    [Property(MaxTest = 300)]
    public Property KeptBackupsKeepTheirDependencies() => Prop.ForAll(Histories(), h =>
    {
        var (decisions, _) = Plan(h);
        var kept = decisions.Where(d => d.Keep).Select(d => d.BackupId).ToHashSet();
        var byId = h.Backups.ToDictionary(b => b.BackupId);
        return kept.All(id => byId[id].ParentId is not { } parent || kept.Contains(parent));
    });

    /// <summary>The newest backup and the newest test-restored backup of every group are kept.</summary>
    [Property(MaxTest = 300)]
    public Property NewestAndNewestVerifiedAreKept() => Prop.ForAll(Histories(), h =>
    {
        var kept = Plan(h).Decisions.Where(d => d.Keep).Select(d => d.BackupId).ToHashSet();
        return h.Backups.GroupBy(b => (b.Kind, b.Plan, b.Name)).All(g =>
            kept.Contains(g.MaxBy(b => b.CompletedAt)!.BackupId)
            && (g.Where(b => h.TestRestored.Contains(b.BackupId)).MaxBy(b => b.CompletedAt) is not { } verified || kept.Contains(verified.BackupId)));
    });

    /// <summary>Planning again over what survives deletes nothing, and keeps the same backups for the same reasons.</summary>
    [Property(MaxTest = 300)]
    public Property PlanIsIdempotent() => Prop.ForAll(Histories(), h =>
    {
        var first = Plan(h).Decisions.Where(d => d.Keep).ToList();
        var survivors = h.Backups.Where(b => first.Any(d => d.BackupId == b.BackupId)).ToList();
        var (second, order) = Plan(h, survivors);
        return order.Count == 0 && second.Select(d => d.BackupId).SequenceEqual(first.Select(d => d.BackupId));
    });

    /// <summary>Deletes go dependents first: no deleted backup is removed before a deleted backup that builds on it.</summary>
    [Property(MaxTest = 300)]
    public Property DeleteOrderRemovesDependentsFirst() => Prop.ForAll(Histories(), h =>
    {
        var order = Plan(h).Order.Select(d => d.BackupId).ToList();
        var position = order.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i);
        return h.Backups.Where(b => b.ParentId is not null && position.ContainsKey(b.BackupId) && position.ContainsKey(b.ParentId))
            .All(b => position[b.BackupId] < position[b.ParentId!]);
    });

    /// <summary>Every point inside a kept PITR window has a kept base backup at or before it.</summary>
    [Property(MaxTest = 300)]
    public Property PointInTimeWindowStaysReachable() => Prop.ForAll(Histories(), h =>
    {
        var kept = Plan(h).Decisions.Where(d => d.Keep && d.Kind == "postgres-base").ToList();
        var bases = h.Backups.Where(b => b.Kind == "postgres-base").ToList();
        var windowStart = h.Now - h.Options.Kinds["postgres-base"].PointInTimeWindow!.Value;
        var firstNeeded = bases.Where(b => b.CompletedAt <= windowStart).MaxBy(b => b.CompletedAt);
        return firstNeeded is null || kept.Any(d => d.BackupId == firstNeeded.BackupId);
    });

    [Fact]
    public void CalendarRulesKeepTheNewestOfEachBucketAndSayWhy()
    {
        // Three backups a day for five days; keep-daily 3 keeps the last one of each of the last three days.
        var backups = new List<BackupManifest>();
        for (var day = 0; day < 5; day++)
        {
            for (var hour = 1; hour <= 3; hour++)
            {
                var time = Origin.AddDays(day).AddHours(hour * 6);
                var id = $"{time.UtcDateTime:yyyyMMdd'T'HHmmssfff'Z'}-0000000{hour}";
                backups.Add(new BackupManifest
                {
                    BackupId = id,
                    Kind = "files",
                    Name = "data",
                    CompletedAt = time,
                    Pipeline = new ManifestPipeline { Compression = "zstd", Encryption = "none" },
                    Data = new ManifestData { Key = "k", StoredSha256 = "00", PlaintextSha256 = "00" },
                });
            }
        }

        var options = new RetentionOptions();
        options.Kinds["files"] = new RetentionPolicy { KeepDaily = 3 };
        var (decisions, order) = RetentionPlanner.Plan(backups, options, new HashSet<string>(), new HashSet<string>(), Origin.AddDays(30));

        var kept = decisions.Where(d => d.Keep).Select(d => (d.CompletedAt, string.Join(", ", d.Reasons))).ToList();
        Assert.Equal(
            [
                (Origin.AddDays(2).AddHours(18), "daily 2026-01-03"),
                (Origin.AddDays(3).AddHours(18), "daily 2026-01-04"),
                (Origin.AddDays(4).AddHours(18), "newest backup, daily 2026-01-05"),
            ],
            kept);
        Assert.Equal(12, order.Count);
        Assert.All(order, d => Assert.Equal("no rule of the kind 'files' policy keeps it", d.Reasons[0]));
    }
}
