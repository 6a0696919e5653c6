using HealthMate.Backup.S3;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Storage.Replication;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.S3;

/// <summary>Two RGW buckets stand for two regions: copies are identical, a lost or damaged copy is found and repaired,
/// and with the primary unreachable a restore reads from the replica.</summary>
[Collection(RgwCollection.Name)]
public sealed class ReplicationTests(RgwFixture rgw) : IAsyncLifetime
{
    private string _primary = null!;
    private string _replica = null!;

    public async Task InitializeAsync()
    {
        _primary = await rgw.CreateBucketAsync();
        _replica = await rgw.CreateBucketAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Backup_IsCopiedIdentically_DamageIsFoundAndRepaired_AndRestoreSurvivesALostPrimary()
    {
        using var host = Host(rgw.Options(_primary), rgw.Options(_replica), ReplicationMode.Synchronous);
        var payload = Payloads.Create(12 * 1024 * 1024, seed: 11, style: 1);
        var backup = await host.BackupBytesAsync(payload, writeChunk: 1 << 20);

        var keys = await Keys(_primary);
        Assert.Equal(keys, await Keys(_replica));
        Assert.Contains(backup.Manifest.Data.Key, keys);
        foreach (var key in keys)
        {
            Assert.Equal(await rgw.DownloadAsync(_primary, key), await rgw.DownloadAsync(_replica, key));
        }

        var replicated = (ReplicatingStorageProvider)host.Services.GetRequiredKeyedService<IStorageProvider>("replicated");
        Assert.True((await replicated.VerifyAsync()).IsConsistent);

        // Lose the replica's manifest and damage its data object.
        using var replica = new S3StorageProvider(rgw.Options(_replica));
        var manifestKey = keys.Single(k => k.EndsWith("manifest.json", StringComparison.Ordinal));
        await replica.DeleteAsync(manifestKey);
        await using (var writer = await replica.OpenWriteAsync(backup.Manifest.Data.Key, new StorageWriteOptions { Overwrite = true }))
        {
            await writer.WriteAsync(new byte[] { 1, 2, 3 });
            await writer.CommitAsync();
        }

        var found = await replicated.VerifyAsync();
        Assert.Equal([$"{replica.Name}: {manifestKey}"], found.Missing);
        Assert.Equal([$"{replica.Name}: {backup.Manifest.Data.Key}"], found.Mismatched);
        Assert.Equal(2, (await replicated.RepairAsync()).Repaired);
        Assert.True((await replicated.VerifyAsync()).IsConsistent);

        // The primary region is gone (nothing answers at its endpoint): the catalog and the restore use the replica.
        var gone = rgw.Options(_primary);
        gone.ServiceUrl = "http://127.0.0.1:1";
        gone.MaxRetries = 0;
        gone.RequestTimeout = TimeSpan.FromSeconds(5);
        using var survivor = Host(gone, rgw.Options(_replica), ReplicationMode.Synchronous, host.Key);
        Assert.Equal(backup.BackupId, Assert.Single(await survivor.Catalog.ListAsync().ToListAsync()).BackupId);
        Assert.Equal(payload, await survivor.RestoreBytesAsync(backup.BackupId));
    }

    [Fact]
    public async Task AsynchronousCopies_CatchUp_AndLeaveIdenticalBuckets()
    {
        using var host = Host(rgw.Options(_primary), rgw.Options(_replica), ReplicationMode.Asynchronous);
        var replicated = (ReplicatingStorageProvider)host.Services.GetRequiredKeyedService<IStorageProvider>("replicated");
        for (var i = 0; i < 3; i++)
        {
            await host.BackupBytesAsync(Payloads.Create(2 * 1024 * 1024, seed: i, style: 1));
        }

        await replicated.FlushAsync();

        Assert.Equal(0, replicated.PendingCopies);
        Assert.Equal(await Keys(_primary), await Keys(_replica));
        Assert.True((await replicated.VerifyAsync()).IsConsistent);
    }

    private async Task<List<string>> Keys(string bucket)
    {
        using var provider = new S3StorageProvider(rgw.Options(bucket));
        return await provider.ListAsync("").Select(i => i.Key).ToListAsync();
    }

    private static TestHost Host(S3StorageOptions primary, S3StorageOptions replica, ReplicationMode mode, byte[]? key = null) => new(key: key, services: s =>
    {
        s.AddBackupDR()
            .AddS3Storage("primary", o => RgwFixture.CopyOptions(primary, o))
            .AddS3Storage("replica", o => RgwFixture.CopyOptions(replica, o))
            .AddReplication("replicated", "primary", ["replica"], o => o.Mode = mode);
        s.PostConfigure<BackupDROptions>(o => o.Storage.Provider = "replicated");
    });
}
