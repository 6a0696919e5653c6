using HealthMate.Backup.Health;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Retention;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace HealthMate.Backup.Tests.Health;

/// <summary>The backup health report flags a missing nightly backup and an RPO breach, and clears when a backup lands.</summary>
public sealed class BackupHealthTests
{
    [Fact]
    public async Task FlagsAMissingNightlyBackupAndAnRpoBreachAndClearsWhenABackupLands()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 1, 2, 0, 0, TimeSpan.Zero));
        using var host = new TestHost(o => o.Health.Targets.Add(new BackupHealthTarget { Kind = "stream", Tier = "low", ExpectedEvery = TimeSpan.FromDays(1), Grace = TimeSpan.FromHours(2) }),
            services: s => s.AddSingleton<TimeProvider>(time));
        var health = host.Services.GetRequiredService<IBackupHealth>();
        var probe = host.Services.GetServices<IHealthProbe>().Single(p => p.Name == "backups");

        var empty = await health.GetReportAsync();
        Assert.Equal(ProbeStatus.Unhealthy, empty.Status);
        Assert.Contains("no backup of stream exists", empty.Groups.Single().Problems);

        await host.Backups.RunAsync(TestHost.BytesSource([1, 2, 3], 10));
        time.Advance(TimeSpan.FromHours(1));
        var fresh = (await health.GetReportAsync()).Groups.Single();
        Assert.Equal(ProbeStatus.Healthy, fresh.Status);
        Assert.True(fresh.RpoCompliant);
        Assert.Equal(TimeSpan.FromHours(4), fresh.Rpo);

        // Five hours on: the low tier's 4-hour RPO is breached, though the nightly backup is not yet due.
        time.Advance(TimeSpan.FromHours(4));
        var breach = (await health.GetReportAsync()).Groups.Single();
        Assert.Equal(ProbeStatus.Unhealthy, breach.Status);
        Assert.False(breach.RpoCompliant);
        Assert.Equal(["RPO breach: restoring now would lose 5 hours of data, the low tier allows 4 hours"], breach.Problems);

        // The next night passes without a backup: missing.
        time.Advance(TimeSpan.FromHours(22));
        var missing = (await health.GetReportAsync()).Groups.Single();
        Assert.Contains(missing.Problems, p => p.StartsWith("backup missing: the newest stream backup is 27 hours old", StringComparison.Ordinal));
        Assert.Equal(ProbeStatus.Unhealthy, (await probe.ProbeAsync()).Status);

        await host.Backups.RunAsync(TestHost.BytesSource([4, 5, 6], 10));
        var cleared = await health.GetReportAsync();
        Assert.Equal(ProbeStatus.Healthy, cleared.Status);
        Assert.Empty(cleared.Groups.Single().Problems);
        Assert.Equal(2, cleared.Groups.Single().BackupsInWindow);
        var answer = await probe.ProbeAsync();
        Assert.Equal(ProbeStatus.Healthy, answer.Status);
        Assert.Equal("Healthy", answer.Data["stream.status"]);
    }

    [Fact]
    public async Task AFailedVerificationAndAFailingJobDegradeTheGroup()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 1, 2, 0, 0, TimeSpan.Zero));
        using var host = new TestHost(o => o.Health.Targets.Add(new BackupHealthTarget { Kind = "stream" }), services: s => s.AddSingleton<TimeProvider>(time));
        var backup = await host.Backups.RunAsync(TestHost.BytesSource([1, 2, 3], 10));
        await host.Services.GetRequiredService<HealthMate.Backup.Verification.IVerificationRecords>().AddAsync(backup.Manifest, "test-restore", time.GetUtcNow(), new InvalidOperationException("table 'visits' has 0 rows"));

        var group = (await host.Services.GetRequiredService<IBackupHealth>().GetReportAsync()).Groups.Single();

        Assert.Equal(ProbeStatus.Degraded, group.Status);
        Assert.Contains($"the newest verification (test-restore of {backup.BackupId}) failed: table 'visits' has 0 rows", group.Problems);
        Assert.False(group.LastVerificationPassed);
    }

    [Fact]
    public void WalOlderThanTheOldestKeptBaseBackupIsPrunedAndHistoryFilesAreKept()
    {
        var retention = new WalRetention("postgres-base");
        var bases = new[]
        {
            Base("20260601T020000000Z-00000001", "000000020000000000000010"),
            Base("20260602T020000000Z-00000002", "000000020000000000000020"),
        };
        string[] keys =
        [
            "wal/7000/00000001/00000001000000000000000E",
            "wal/7000/00000001/00000001000000000000000F.partial",
            "wal/7000/00000001/000000010000000000000011",
            "wal/7000/00000002/00000002.history",
            "wal/7000/00000002/00000002000000000000000F",
            "wal/7000/00000002/00000002000000000000000F.00000028.backup",
            "wal/7000/00000002/000000020000000000000010",
            "wal/7000/00000003/00000003000000000000000F",
            "wal/8000/00000001/000000010000000000000001",
        ];

        var pruned = retention.Plan(bases, keys).Select(i => i.Key).ToList();

        Assert.Equal(
            [
                "wal/7000/00000001/00000001000000000000000E",
                "wal/7000/00000001/00000001000000000000000F.partial",
                "wal/7000/00000002/00000002000000000000000F",
                "wal/7000/00000002/00000002000000000000000F.00000028.backup",
            ],
            pruned);
        Assert.Empty(retention.Plan([Base("20260603T020000000Z-00000003", null)], keys)); // start unknown: keep it all
    }

    private static HealthMate.Backup.Catalog.BackupManifest Base(string id, string? startWalFile)
    {
        var properties = new Dictionary<string, string> { ["postgres.system-identifier"] = "7000" };
        if (startWalFile is not null)
        {
            properties["postgres.start-wal-file"] = startWalFile;
        }

        return new HealthMate.Backup.Catalog.BackupManifest
        {
            BackupId = id,
            Kind = "postgres-base",
            Name = "cluster",
            Properties = properties,
            Pipeline = new HealthMate.Backup.Catalog.ManifestPipeline { Compression = "zstd", Encryption = "none" },
            Data = new HealthMate.Backup.Catalog.ManifestData { Key = "k", StoredSha256 = "00", PlaintextSha256 = "00" },
        };
    }
}
