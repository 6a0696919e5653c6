using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Storage.Local;
using HealthMate.Backup.Storage.Replication;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 13, defect 1: a manifest commit that throws although the manifest was stored (a lost response whose retry
/// gets 412 from If-None-Match, or a replica copy failing after the primary committed) used to make the cleanup delete
/// the data and leave the manifest. PostgreSQL then retried the push, "already archived" was answered without looking
/// at the data, and the segment was recycled: a permanent hole. A backup in the same state was listed but unrestorable.
/// </summary>
public sealed class Regression_ManifestWithoutDataTests : IDisposable
{
    private const string SystemId = "7300000000000000001";
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-commit-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    public static TheoryData<string> Faults => ["exists", "io"];

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task WalPush_WhoseManifestIsStoredButTheCommitThrows_IsNeverAcknowledgedWithoutItsData(string fault)
    {
        var hooked = default(HookedStorage);
        using var host = new TestHost(services: s => s.AddBackupDR().AddPostgreSql(), wrapStorage: inner => hooked = new HookedStorage(inner));
        var injected = 0;
        hooked!.AfterCommit = key => key.EndsWith(".manifest.json", StringComparison.Ordinal) && injected++ == 0 ? throw Fault(fault, key) : ValueTask.CompletedTask;
        var archive = host.Services.GetRequiredService<WalArchive>();
        var (segment, content) = Segment("000000010000000000000042");

        // PostgreSQL's loop: push until it is acknowledged, then recycle the file.
        var attempts = 0;
        while (true)
        {
            attempts++;
            try
            {
                await archive.PushAsync(segment, new WalArchiveOptions { SystemIdentifier = SystemId });
                break;
            }
            catch (Exception) when (attempts < 3)
            {
            }
        }

        File.Delete(segment);
        Assert.Equal(1, injected);
        var fetched = Path.Combine(_work, "fetched");
        Assert.True(await archive.FetchAsync("000000010000000000000042", fetched, new WalArchiveOptions { SystemIdentifier = SystemId }));
        Assert.Equal(content, await File.ReadAllBytesAsync(fetched));
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
    }

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Backup_WhoseManifestIsStoredButTheCommitThrows_IsReportedCommitted_AndRestores(string fault)
    {
        var hooked = default(HookedStorage);
        using var host = new TestHost(wrapStorage: inner => hooked = new HookedStorage(inner));
        var injected = 0;
        hooked!.AfterCommit = key => key.EndsWith("/manifest.json", StringComparison.Ordinal) && injected++ == 0 ? throw Fault(fault, key) : ValueTask.CompletedTask;
        var payload = Payloads.Create(3 * 1024 * 1024, seed: 5, style: 1);

        // The manifest is stored: the backup is committed, and saying otherwise would make the caller take it again
        // while retention and "newest good backup" already count it.
        var result = await host.BackupBytesAsync(payload);

        Assert.Equal(1, injected);
        Assert.Equal(result.BackupId, Assert.Single(await host.Catalog.ListAsync().ToListAsync()).BackupId);
        Assert.Equal(payload, await host.RestoreBytesAsync(result.BackupId));
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
    }

    [Fact]
    public async Task ReplicaCopyFailingAfterThePrimaryCommitted_IsACommitWithACopyPending_ThatRepairMakes()
    {
        var primaryRoot = Directory.CreateDirectory(Path.Combine(_work, "primary")).FullName;
        var replicaRoot = Directory.CreateDirectory(Path.Combine(_work, "replica")).FullName;
        var replica = new HookedStorage(new LocalDiskStorageProvider(new LocalStorageOptions { Path = replicaRoot, FlushToDisk = false }));
        var failing = true;
        replica.BeforeCommit = key => failing && key.EndsWith("manifest.json", StringComparison.Ordinal) ? throw new StorageException("simulated: replica region unreachable", key, isTransient: true) : ValueTask.CompletedTask;
        ReplicatingStorageProvider? replicated = null;
        using var host = new TestHost(root: primaryRoot, services: s => s.AddBackupDR().AddPostgreSql(), wrapStorage: primary => replicated = new ReplicatingStorageProvider(primary, [replica]));
        var payload = Payloads.Create(1024 * 1024, seed: 6, style: 0);
        var archive = host.Services.GetRequiredService<WalArchive>();
        var (segment, content) = Segment("000000010000000000000043");

        var backup = await host.BackupBytesAsync(payload);
        var push = await archive.PushAsync(segment, new WalArchiveOptions { SystemIdentifier = SystemId });

        Assert.Equal(WalPushOutcome.Stored, push.Outcome);
        Assert.Equal(payload, await host.RestoreBytesAsync(backup.BackupId));
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
        // The backup's manifest failed; the WAL segment's data and manifest then wait behind it (a replica never gets
        // objects past one it owes).
        Assert.Equal(3, replicated!.FailedCopies.Count);
        Assert.False((await replicated!.VerifyAsync()).IsConsistent);

        failing = false;
        var repaired = await replicated.RepairAsync();
        Assert.True((await replicated.VerifyAsync()).IsConsistent, string.Join(", ", repaired.Missing));
        Assert.Empty(replicated.FailedCopies);
        var fetched = Path.Combine(_work, "fetched");
        Assert.True(await archive.FetchAsync("000000010000000000000043", fetched, new WalArchiveOptions { SystemIdentifier = SystemId }));
        Assert.Equal(content, await File.ReadAllBytesAsync(fetched));
    }

    [Fact]
    public async Task AReplicaNeverGetsAManifestBeforeTheDataItNames_AndTheNextCommitCatchesUpInOrder()
    {
        // Found in review: the data's copy failed, the manifest's succeeded, and the replica listed a backup it could
        // not restore, exactly when the primary is lost.
        var primaryRoot = Directory.CreateDirectory(Path.Combine(_work, "primary")).FullName;
        var replicaRoot = Directory.CreateDirectory(Path.Combine(_work, "replica")).FullName;
        var replica = new HookedStorage(new LocalDiskStorageProvider(new LocalStorageOptions { Path = replicaRoot, FlushToDisk = false }));
        var failing = true;
        replica.BeforeCommit = key => failing && key.EndsWith("/data", StringComparison.Ordinal) ? throw new StorageException("simulated: reset mid-upload to the replica", key, isTransient: true) : ValueTask.CompletedTask;
        ReplicatingStorageProvider? replicated = null;
        using var host = new TestHost(root: primaryRoot, wrapStorage: primary => replicated = new ReplicatingStorageProvider(primary, [replica]));
        var first = Payloads.Create(200_000, seed: 7, style: 0);

        var backup = await host.BackupBytesAsync(first);

        using (var replicaOnly = new TestHost(root: replicaRoot, key: host.Key, keepRoot: true))
        {
            Assert.Empty(await replicaOnly.Catalog.ListEntriesAsync().ToListAsync());
            await ArchiveInvariants.AssertNoManifestWithoutDataAsync(replicaOnly.Services);
        }

        Assert.Equal(2, replicated!.FailedCopies.Count); // the data, and the manifest waiting behind it

        // The next commit retries what the replica owes, in order, before its own copies.
        failing = false;
        var second = await host.BackupBytesAsync([4, 5, 6]);
        Assert.Empty(replicated.FailedCopies);
        using (var replicaOnly = new TestHost(root: replicaRoot, key: host.Key, keepRoot: true))
        {
            Assert.Equal([backup.BackupId, second.BackupId], await replicaOnly.Catalog.ListAsync().Select(m => m.BackupId).ToListAsync());
            Assert.Equal(first, await replicaOnly.RestoreBytesAsync(backup.BackupId));
        }
    }

    [Fact]
    public async Task ArchivedManifestWhoseDataIsGone_IsNotAlreadyArchived_TheNextPushRestoresIt()
    {
        using var host = new TestHost(services: s => s.AddBackupDR().AddPostgreSql());
        var archive = host.Services.GetRequiredService<WalArchive>();
        var (segment, content) = Segment("000000010000000000000044");
        var options = new WalArchiveOptions { SystemIdentifier = SystemId };
        await archive.PushAsync(segment, options);
        var keyed = host.Services.GetRequiredService<HealthMate.Backup.Pipeline.KeyedObjectStore>();
        var manifest = (await keyed.FindAsync($"wal/{SystemId}/00000001/000000010000000000000044", "wal", CancellationToken.None))!;
        await host.Storage.DeleteAsync(manifest.Data.Key);

        var again = await archive.PushAsync(segment, options);

        Assert.Equal(WalPushOutcome.Stored, again.Outcome);
        var fetched = Path.Combine(_work, "fetched");
        Assert.True(await archive.FetchAsync("000000010000000000000044", fetched, options));
        Assert.Equal(content, await File.ReadAllBytesAsync(fetched));
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
    }

    private (string Path, byte[] Content) Segment(string name)
    {
        var content = Payloads.Create(1024 * 1024, seed: name.GetHashCode(StringComparison.Ordinal), style: 2);
        var path = Path.Combine(_work, name);
        File.WriteAllBytes(path, content);
        return (path, content);
    }

    private static StorageException Fault(string fault, string key) => fault == "exists"
        ? new StorageObjectExistsException("simulated", key, null) // the retry of a PUT whose response was lost gets 412
        : new StorageException("simulated: the connection was reset after the request was sent", key, isTransient: true);
}
