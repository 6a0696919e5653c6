using HealthMate.Backup.FileTree;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Retention;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// The fault-injection suite's concurrency part (issue 13): pushes racing prunes, a prune on a clock far ahead next
/// to an in-flight push, a push slower than the grace period whose data a prune removes, and two backups building on
/// the same parent at once. (Two pushers of one WAL
/// name: Regression_ConcurrentWalPushersTests, and over S3 in S3FaultInjectionTests.)
/// </summary>
public sealed class ConcurrencyTests(ITestOutputHelper output) : IDisposable
{
    private const string SystemId = "7700000000000000001";
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-race-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task PushesRacingPrunes_EveryAcknowledgedSegmentTheKeptBaseBackupNeeds_Stays()
    {
        using var host = new TestHost(o => o.Retention.Kinds["postgres-base"] = new RetentionPolicy { KeepLast = 1 }, services: s => s.AddBackupDR().AddPostgreSql());
        var archive = host.Services.GetRequiredService<WalArchive>();
        var retention = host.Services.GetRequiredService<IBackupRetention>();
        for (var n = 0x01; n < 0x20; n++)
        {
            await PushAsync(archive, n);
        }

        await BaseBackupAsync(host, startSegment: 0x10);
        await BaseBackupAsync(host, startSegment: 0x20);

        // Pushes of new segments while retention runs again and again: the old segments go, no new one is touched.
        var pushing = Task.Run(async () =>
        {
            var pushed = new List<int>();
            for (var n = 0x20; n < 0x60; n++)
            {
                await PushAsync(archive, n);
                pushed.Add(n);
            }

            return pushed;
        });
        var prunes = 0;
        var pruned = 0;
        while (!pushing.IsCompleted || prunes == 0)
        {
            pruned += (await retention.ApplyAsync()).DeletedArchiveObjects;
            prunes++;
        }

        var acknowledged = await pushing;
        var listed = await archive.ListAsync(SystemId, "00000001").ToListAsync();
        Assert.Equal(acknowledged.Select(Name), listed);
        foreach (var n in acknowledged)
        {
            var fetched = Path.Combine(_work, "fetched");
            Assert.True(await archive.FetchAsync(Name(n), fetched, new WalArchiveOptions { SystemIdentifier = SystemId }));
            Assert.Equal(Content(n), await File.ReadAllBytesAsync(fetched));
        }

        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
        output.WriteLine($"{acknowledged.Count} pushes raced {prunes} prunes, which removed {pruned} older segments");
        FaultCounts.Write("concurrency-push-prune", $"{acknowledged.Count} pushes raced {prunes} prunes; lost 0");
    }

    [Fact]
    public async Task APruneOnAClockDaysAhead_NeverTakesAnInFlightPushsDataForAnOrphan()
    {
        // The pruning host's clock runs two days ahead; the storage's (the newest object's time) does not: ages are
        // measured on the earlier of the two, so the data of a push held before it writes its manifest stays.
        var (pusher, hooked) = PushingHost();
        using var _ = pusher;
        using var pruner = new TestHost(root: pusher.Root, key: pusher.Key, keepRoot: true, services: s => s.AddBackupDR().AddPostgreSql().Services.AddSingleton<TimeProvider>(new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(2))));
        var (push, release) = HoldBeforeManifest(pusher, hooked, 0x70);
        await release.Held;

        var result = await pruner.Services.GetRequiredService<IBackupRetention>().ApplyAsync();
        release.Go();
        await push;

        Assert.Equal(0, result.DeletedIncompleteUploads);
        await AssertFetchesAsync(pusher, 0x70);
    }

    [Fact]
    public async Task APushSlowerThanTheGracePeriod_WhoseDataAPruneRemoved_IsNotAcknowledged_AndTheRetryStoresIt()
    {
        // A push held long enough that its data is past the grace period (its file dated three days back): a prune
        // removes it as abandoned; the push then commits its manifest, finds its data gone, and does not acknowledge.
        var (pusher, hooked) = PushingHost();
        using var _ = pusher;
        await PushAsync(pusher.Services.GetRequiredService<WalArchive>(), 0x72); // the store is in use: its clock reads now
        var (push, release) = HoldBeforeManifest(pusher, hooked, 0x71);
        await release.Held;
        foreach (var data in pusher.AllFiles().Where(f => Path.GetFileName(f).StartsWith(Name(0x71) + ".", StringComparison.Ordinal)))
        {
            File.SetLastWriteTimeUtc(pusher.PathOf(data), DateTime.UtcNow.AddDays(-3));
        }

        var result = await pusher.Services.GetRequiredService<IBackupRetention>().ApplyAsync();
        release.Go();
        var error = await Record.ExceptionAsync(() => push);

        Assert.Equal(1, result.DeletedIncompleteUploads);
        Assert.NotNull(error); // not acknowledged: PostgreSQL keeps the segment and retries
        await PushAsync(pusher.Services.GetRequiredService<WalArchive>(), 0x71);
        await AssertFetchesAsync(pusher, 0x71);
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(pusher.Services);
    }

    [Fact]
    public async Task ABackupSlowerThanTheGracePeriod_WhoseDataAPruneRemoved_IsWithdrawnNotReportedDone()
    {
        // A backup that started 30 hours ago (its id says so, its data is dated then) and is about to write its
        // manifest: a prune removes its folder as abandoned. Committing anyway would list a backup with no data.
        HookedStorage? hooked = null;
        using var slow = new TestHost(services: s => s.AddSingleton<TimeProvider>(new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-30))), wrapStorage: inner => hooked = new HookedStorage(inner));
        using var pruner = new TestHost(root: slow.Root, key: slow.Key, keepRoot: true);
        await pruner.BackupBytesAsync([1]); // the store is in use: its clock reads now
        var hold = new Hold();
        hooked!.BeforeOpenWrite = async key =>
        {
            if (key.EndsWith("/manifest.json", StringComparison.Ordinal))
            {
                hold.Reached();
                await hold.Released;
            }
        };
        var run = Task.Run(() => slow.BackupBytesAsync(Payloads.Create(100_000, seed: 5, style: 0)));
        await hold.Held;
        foreach (var file in slow.AllFiles().Where(f => f.EndsWith("/data", StringComparison.Ordinal)))
        {
            File.SetLastWriteTimeUtc(slow.PathOf(file), DateTime.UtcNow.AddHours(-30));
        }

        var pruned = await pruner.Services.GetRequiredService<IBackupRetention>().ApplyAsync();
        hold.Go();
        var error = await Record.ExceptionAsync(() => run);

        Assert.Equal(1, pruned.DeletedIncompleteUploads);
        Assert.Contains("withdrawn", Assert.IsType<BackupStageException>(error).ToString(), StringComparison.Ordinal);
        Assert.Single(await pruner.Catalog.ListAsync().ToListAsync()); // only the other backup
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(pruner.Services);
    }

    [Fact]
    public async Task TwoIncrementalBackupsOnTheSameParentAtOnce_BothCommit_AndEachRestoresItsOwnPoint()
    {
        var source = Directory.CreateDirectory(Path.Combine(_work, "tree", "data")).FullName;
        await File.WriteAllTextAsync(Path.Combine(source, "base.txt"), "in the full backup");
        using var host = new TestHost();
        var options = new FileTreeSourceOptions { Paths = { source } };
        var full = await host.Backups.RunAsync(BackupSources.FromFileTree(options));
        await File.WriteAllTextAsync(Path.Combine(source, "later.txt"), "in both incrementals");
        var request = new BackupRequest { Type = BackupType.Incremental, ParentId = full.BackupId };

        var both = await Task.WhenAll(
            Task.Run(() => host.Backups.RunAsync(BackupSources.FromFileTree(options), request).AsTask()),
            Task.Run(() => host.Backups.RunAsync(BackupSources.FromFileTree(options), request).AsTask()));

        Assert.NotEqual(both[0].BackupId, both[1].BackupId);
        var restorer = host.Services.GetRequiredService<IFileTreeRestoreRunner>();
        foreach (var backup in both)
        {
            var target = Path.Combine(_work, "restored-" + backup.BackupId);
            await restorer.RestoreAsync(backup.BackupId, target);
            Assert.Equal("in the full backup", await File.ReadAllTextAsync(Path.Combine(target, "data", "base.txt")));
            Assert.Equal("in both incrementals", await File.ReadAllTextAsync(Path.Combine(target, "data", "later.txt")));
        }

        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
    }

    private static (TestHost Host, HookedStorage Hooked) PushingHost()
    {
        HookedStorage? hooked = null;
        var host = new TestHost(services: s => s.AddBackupDR().AddPostgreSql(), wrapStorage: inner => hooked = new HookedStorage(inner));
        return (host, hooked!);
    }

    /// <summary>Starts a push and holds it after its data is stored, before it opens its manifest.</summary>
    private (Task Push, Hold Release) HoldBeforeManifest(TestHost host, HookedStorage hooked, int segment)
    {
        var hold = new Hold();
        var first = 0;
        hooked.BeforeOpenWrite = async key =>
        {
            if (key.EndsWith(".manifest.json", StringComparison.Ordinal) && Interlocked.Increment(ref first) == 1)
            {
                hold.Reached();
                await hold.Released;
            }
        };
        return (Task.Run(() => PushAsync(host.Services.GetRequiredService<WalArchive>(), segment)), hold);
    }

    private async Task AssertFetchesAsync(TestHost host, int segment)
    {
        var fetched = Path.Combine(_work, "fetched");
        Assert.True(await host.Services.GetRequiredService<WalArchive>().FetchAsync(Name(segment), fetched, new WalArchiveOptions { SystemIdentifier = SystemId }));
        Assert.Equal(Content(segment), await File.ReadAllBytesAsync(fetched));
    }

    private static string Name(int n) => $"0000000100000000000000{n:X2}";

    private static byte[] Content(int n) => Payloads.Create(64 * 1024, seed: n, style: 0);

    private async Task PushAsync(WalArchive archive, int n)
    {
        var path = Path.Combine(_work, Name(n));
        await File.WriteAllBytesAsync(path, Content(n));
        await archive.PushAsync(path, new WalArchiveOptions { SystemIdentifier = SystemId });
    }

    /// <summary>A point a test holds a writer at, and lets it go from.</summary>
    private sealed class Hold
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Task Held => _reached.Task;

        internal Task Released => _released.Task;

        internal void Reached() => _reached.TrySetResult();

        internal void Go() => _released.TrySetResult();
    }

    /// <summary>A backup that retention treats as a physical base backup starting at a segment.</summary>
    private static async Task BaseBackupAsync(TestHost host, int startSegment) =>
        await host.Backups.RunAsync(BackupSources.Create("postgres-base", "cluster", (destination, context, token) =>
        {
            context.Properties["postgres.format"] = "base-tar";
            context.Properties["postgres.system-identifier"] = SystemId;
            context.Properties["postgres.start-wal-file"] = Name(startSegment);
            return destination.WriteAsync(new byte[] { 1, 2, 3 }, token);
        }));
}
