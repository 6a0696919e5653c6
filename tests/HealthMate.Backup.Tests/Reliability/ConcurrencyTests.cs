using HealthMate.Backup.FileTree;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Retention;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// The fault-injection suite's concurrency part (issue 13): pushes racing prunes, a push whose data a prune with a
/// clock far ahead takes for an orphan, and two backups building on the same parent at once. (Two pushers of one WAL
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
    public async Task APruneThatTakesAnInFlightPushsDataForAnOrphan_NeverLeavesItAcknowledgedWithoutData()
    {
        // The pushing host's clock is right; the pruning host's runs two days ahead (a skewed clock, or a push slower
        // than the grace period): it sees the data of a push held before it writes its manifest as an old orphan.
        var hooked = default(HookedStorage);
        using var pusher = new TestHost(services: s => s.AddBackupDR().AddPostgreSql(), wrapStorage: inner => hooked = new HookedStorage(inner));
        using var pruner = new TestHost(root: pusher.Root, key: pusher.Key, keepRoot: true, services: s => s.AddBackupDR().AddPostgreSql().Services.AddSingleton<TimeProvider>(new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(2))));
        var archive = pusher.Services.GetRequiredService<WalArchive>();
        var atManifest = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pruned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = 0;
        hooked!.BeforeOpenWrite = async key =>
        {
            if (key.EndsWith(".manifest.json", StringComparison.Ordinal) && Interlocked.Increment(ref first) == 1)
            {
                atManifest.SetResult();
                await pruned.Task;
            }
        };

        var push = Task.Run(() => PushAsync(archive, 0x70));
        await atManifest.Task;
        var result = await pruner.Services.GetRequiredService<IBackupRetention>().ApplyAsync();
        pruned.SetResult();
        var error = await Record.ExceptionAsync(() => push);

        Assert.Equal(1, result.DeletedIncompleteUploads); // the in-flight data, taken for an orphan
        Assert.NotNull(error); // so the push is not acknowledged: PostgreSQL keeps the segment and retries
        await PushAsync(archive, 0x70);
        var fetched = Path.Combine(_work, "fetched");
        Assert.True(await archive.FetchAsync(Name(0x70), fetched, new WalArchiveOptions { SystemIdentifier = SystemId }));
        Assert.Equal(Content(0x70), await File.ReadAllBytesAsync(fetched));
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(pusher.Services);
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

    private static string Name(int n) => $"0000000100000000000000{n:X2}";

    private static byte[] Content(int n) => Payloads.Create(64 * 1024, seed: n, style: 0);

    private async Task PushAsync(WalArchive archive, int n)
    {
        var path = Path.Combine(_work, Name(n));
        await File.WriteAllBytesAsync(path, Content(n));
        await archive.PushAsync(path, new WalArchiveOptions { SystemIdentifier = SystemId });
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
