using HealthMate.Backup.Catalog;
using HealthMate.Backup.Retention;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Storage.Local;
using HealthMate.Backup.Tests.Support;
using HealthMate.Backup.Verification;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace HealthMate.Backup.Tests.Retention;

/// <summary>Retention applied to a real local store: what it deletes, what it keeps, and what a crash leaves.</summary>
public sealed class RetentionApplyTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly List<string> _roots = [];

    public void Dispose()
    {
        foreach (var root in _roots.Where(Directory.Exists))
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task ApplyDeletesWhatNoRuleKeepsAndEveryKeptBackupStillRestores()
    {
        var (time, host, payloads) = await BuildHistoryAsync();
        using (host)
        {
            var retention = host.Services.GetRequiredService<IBackupRetention>();
            var plan = await retention.PlanAsync();
            Assert.NotEmpty(plan.ToDelete);
            Assert.All(plan.Backups, d => Assert.NotEmpty(d.Reasons));
            Assert.Equal(payloads.Count, await CountAsync(host.Catalog)); // the plan deleted nothing

            var result = await retention.ApplyAsync();

            Assert.Equal(plan.ToDelete.Select(d => d.BackupId), result.DeletedBackups);
            foreach (var id in result.DeletedBackups)
            {
                Assert.False(Directory.Exists(Path.Combine(host.Root, "backups", "stream", id)), $"{id} left files behind");
            }

            await AssertEveryListedBackupRestoresAsync(host, payloads);
            Assert.Equal(plan.ToKeep.Count(), await CountAsync(host.Catalog));
            Assert.Empty((await retention.PlanAsync()).ToDelete); // idempotent
        }
    }

    [Fact]
    public async Task InterruptingApplyAtAnyDeleteLeavesOnlyBackupsThatRestore()
    {
        var (_, template, payloads) = await BuildHistoryAsync();
        var pristine = NewRoot();
        var key = template.Key;
        TestHost.CopyTree(template.Root, pristine);
        template.Dispose();
        var counted = NewRoot();
        TestHost.CopyTree(pristine, counted);
        var totalDeletes = await ApplyWithCrashAsync(counted, key, crashAfter: int.MaxValue);

        Assert.True(totalDeletes > 5, $"only {totalDeletes} deletes");
        for (var crashAfter = 0; crashAfter < totalDeletes; crashAfter++)
        {
            var root = NewRoot();
            TestHost.CopyTree(pristine, root);
            await Assert.ThrowsAnyAsync<IOException>(() => ApplyWithCrashAsync(root, key, crashAfter));

            var time = new FakeTimeProvider(Start.AddDays(30));
            using var after = NewHost(root, time, key);
            await AssertEveryListedBackupRestoresAsync(after, payloads);

            // The next run finishes the job; what the crash left half-deleted goes once past the grace period.
            var retention = after.Services.GetRequiredService<IBackupRetention>();
            await retention.ApplyAsync();
            foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
            {
                File.SetLastWriteTimeUtc(file, time.GetUtcNow().UtcDateTime); // the store's clock agrees with the host's
            }

            time.Advance(TimeSpan.FromDays(2));
            var newest = Directory.EnumerateFiles(root, "manifest.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Last();
            File.SetLastWriteTimeUtc(newest, time.GetUtcNow().UtcDateTime); // and the store's clock moved on with it
            await retention.ApplyAsync();
            var plan = await retention.PlanAsync();
            Assert.Empty(plan.ToDelete);
            Assert.Empty(plan.IncompleteUploads);
            Assert.All(Directory.GetDirectories(Path.Combine(root, "backups", "stream")), folder => Assert.True(File.Exists(Path.Combine(folder, "manifest.json")), $"{folder} has no manifest"));
            await AssertEveryListedBackupRestoresAsync(after, payloads);
        }
    }

    [Fact]
    public async Task NewestTestRestoredAndTaggedBackupsSurviveAKeepLastOnePolicy()
    {
        var time = new FakeTimeProvider(Start);
        using var host = NewHost(NewRoot(), time, null, o => o.Retention.Kinds["stream"] = new RetentionPolicy { KeepLast = 1, KeepTags = ["pre-upgrade"] });
        var tagged = await host.Backups.RunAsync(TestHost.BytesSource([1], 10), new BackupRequest { Tags = ["pre-upgrade"] });
        time.Advance(TimeSpan.FromHours(1));
        var verified = await host.Backups.RunAsync(TestHost.BytesSource([2], 10));
        await host.Services.GetRequiredService<IVerificationRecords>().AddAsync(verified.Manifest, "test-restore", time.GetUtcNow(), null);
        time.Advance(TimeSpan.FromHours(1));
        var plain = await host.Backups.RunAsync(TestHost.BytesSource([3], 10));
        time.Advance(TimeSpan.FromHours(1));
        var newest = await host.Backups.RunAsync(TestHost.BytesSource([4], 10));

        var plan = await host.Services.GetRequiredService<IBackupRetention>().PlanAsync();

        string Why(BackupResult b) => string.Join(", ", plan.Backups.Single(d => d.BackupId == b.BackupId).Reasons);
        Assert.Equal("tagged 'pre-upgrade'", Why(tagged));
        Assert.Equal("newest backup that passed a test restore", Why(verified));
        Assert.Equal("no rule of the kind 'stream' policy keeps it", Why(plain));
        Assert.Equal("newest backup, one of the last 1", Why(newest));
        Assert.Equal([plain.BackupId], plan.ToDelete.Select(d => d.BackupId));
    }

    [Fact]
    public async Task IncompleteUploadsAreRemovedOnlyAfterTheGracePeriod()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var host = NewHost(NewRoot(), time, null);
        var kept = await host.Backups.RunAsync(TestHost.BytesSource([9, 9], 10));
        var orphanId = BackupId.New(new FakeTimeProvider(time.GetUtcNow().AddHours(-25)));
        var orphan = Path.Combine(host.Root, "backups", "stream", orphanId);
        Directory.CreateDirectory(orphan);
        await File.WriteAllBytesAsync(Path.Combine(orphan, "data"), [1, 2, 3]);
        var retention = host.Services.GetRequiredService<IBackupRetention>();

        Assert.Empty((await retention.PlanAsync()).IncompleteUploads); // just written: could be a backup still running
        File.SetLastWriteTimeUtc(Path.Combine(orphan, "data"), DateTime.UtcNow.AddHours(-25)); // a run that died a day ago
        var plan = await retention.PlanAsync();
        Assert.Equal([$"backups/stream/{orphanId}/data"], plan.IncompleteUploads);

        await retention.ApplyAsync();
        Assert.False(File.Exists(Path.Combine(orphan, "data")));
        Assert.NotNull(await host.Catalog.FindAsync("stream", kept.BackupId));
    }

    [Fact]
    public async Task ABackupWhoseParentWasPrunedDuringItsRunFailsInsteadOfCommitting()
    {
        var time = new FakeTimeProvider(Start);
        using var host = NewHost(NewRoot(), time, null);
        var full = await host.Backups.RunAsync(TestHost.BytesSource([1], 10));
        var storage = host.Storage;
        var request = new BackupRequest
        {
            Type = BackupType.Incremental,
            ParentId = full.BackupId,
            BeforeCommit = async ct => await storage.DeleteAsync($"backups/stream/{full.BackupId}/manifest.json", ct), // a prune beside the run
        };

        var error = await Assert.ThrowsAsync<BackupStageException>(async () => await host.Backups.RunAsync(TestHost.BytesSource([2], 10), request));

        Assert.IsType<BackupNotFoundException>(error.InnerException);
        Assert.Empty(await ToListAsync(host.Catalog));
    }

    private async Task<(FakeTimeProvider Time, TestHost Host, Dictionary<string, byte[]> Payloads)> BuildHistoryAsync()
    {
        // Twelve days, two backups a day: a full every fourth, incrementals between, keep the last three days.
        var time = new FakeTimeProvider(Start);
        var host = NewHost(NewRoot(), time, null);
        var payloads = new Dictionary<string, byte[]>();
        string? previous = null;
        for (var i = 0; i < 24; i++)
        {
            var payload = Payloads.Create(1000 + i, seed: i, style: i % 3);
            var request = i % 4 == 0 ? new BackupRequest() : new BackupRequest { Type = BackupType.Incremental, ParentId = previous };
            var result = await host.Backups.RunAsync(TestHost.BytesSource(payload, 512), request);
            payloads[result.BackupId] = payload;
            previous = result.BackupId;
            time.Advance(TimeSpan.FromHours(12));
        }

        return (time, host, payloads);
    }

    private static TestHost NewHost(string root, TimeProvider time, byte[]? key, Action<BackupDROptions>? configure = null, Func<IStorageProvider, IStorageProvider>? wrap = null) =>
        new(o =>
        {
            o.Retention.Kinds["stream"] = new RetentionPolicy { KeepWithin = TimeSpan.FromDays(3) };
            configure?.Invoke(o);
        }, root, key, keepRoot: true, services: services =>
        {
            services.AddSingleton(time);
            if (wrap is not null)
            {
                services.AddKeyedSingleton<IStorageProvider>("wrapped", (_, _) => wrap(new LocalDiskStorageProvider(new LocalStorageOptions { Path = root, FlushToDisk = false })));
                services.PostConfigure<BackupDROptions>(o => o.Storage.Provider = "wrapped");
            }
        });

    /// <summary>Applies retention over a copy whose store fails on delete number <paramref name="crashAfter"/>; returns the deletes made.</summary>
    private async Task<int> ApplyWithCrashAsync(string root, byte[] key, int crashAfter)
    {
        var deletes = 0;
        var time = new FakeTimeProvider(Start.AddDays(12));
        using var host = NewHost(root, time, key, null, inner => new FailingStorage(inner, long.MaxValue, () => deletes++ >= crashAfter));
        await host.Services.GetRequiredService<IBackupRetention>().ApplyAsync();
        return deletes;
    }

    private static async Task AssertEveryListedBackupRestoresAsync(TestHost host, Dictionary<string, byte[]> payloads)
    {
        var listed = await ToListAsync(host.Catalog);
        Assert.NotEmpty(listed);
        foreach (var manifest in listed)
        {
            Assert.Equal(payloads[manifest.BackupId], await host.RestoreBytesAsync(manifest.BackupId));
            if (manifest.ParentId is not null)
            {
                Assert.Contains(listed, m => m.BackupId == manifest.ParentId);
            }
        }
    }

    private static async Task<List<BackupManifest>> ToListAsync(IBackupCatalog catalog) => await catalog.ListAsync().ToListAsync();

    private static async Task<int> CountAsync(IBackupCatalog catalog) => await catalog.ListAsync().CountAsync();

    private string NewRoot()
    {
        var root = Directory.CreateTempSubdirectory("hmb-retention-").FullName;
        _roots.Add(root);
        return root;
    }
}
