using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 13, defect 4 (encrypted): two backups' data objects written with the same key can be swapped by anyone who can
/// write to the storage. Every segment of the swapped object authenticated (same key, its own header), so a restore
/// streamed the other backup's bytes into the target and only failed at the end, on the stored checksum. Now the
/// manifest's key id and salt are checked against the object header before the first byte is emitted, and the object's
/// backup id and name are bound into every segment's associated data.
/// </summary>
public sealed class Regression_SwappedObjectsTests
{
    [Fact]
    public async Task DataObjectOfAnotherBackup_IsRefusedBeforeTheTargetSeesAByte()
    {
        using var host = new TestHost(o => TestHost.Small(o, HealthMate.Backup.Compression.CompressionAlgorithm.Zstd, encrypted: true));
        // Random bytes over many 64 KiB blocks and 4 KiB segments: frames complete long before the object ends.
        var victim = await host.BackupBytesAsync(Payloads.Create(2 * 1024 * 1024, seed: 1, style: 0));
        var other = await host.BackupBytesAsync(Payloads.Create(2 * 1024 * 1024, seed: 2, style: 0));
        File.Copy(host.PathOf(other.Manifest.Data.Key), host.PathOf(victim.Manifest.Data.Key), overwrite: true);
        var target = new RecordingTarget();

        var error = await Assert.ThrowsAnyAsync<BackupIntegrityException>(() => host.Restores.RestoreAsync(victim.BackupId, target).AsTask());

        Assert.Equal(0, target.BytesSeen);
        Assert.Contains(victim.BackupId, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompanionObjectOfAnotherBackup_IsRefusedBeforeItsFirstByteIsRead()
    {
        // Companion objects (a file backup's index, a logical backup's globals) have no salt in the manifest: their
        // backup id and name, bound into every segment, are what tells them apart.
        using var host = new TestHost(o => TestHost.Small(o, HealthMate.Backup.Compression.CompressionAlgorithm.Zstd, encrypted: true));
        var source = Directory.CreateTempSubdirectory("hmb-swap-").FullName;
        try
        {
            // An index of several segments and compression blocks: 2,000 files, a line each.
            for (var i = 0; i < 2000; i++)
            {
                await File.WriteAllTextAsync(Path.Combine(source, $"file-{i:D5}-{Guid.NewGuid():N}.txt"), $"{i}");
            }

            var victim = await host.Backups.RunAsync(BackupSources.FromFileTree(new HealthMate.Backup.FileTree.FileTreeSourceOptions { Paths = { source } }));
            await File.WriteAllTextAsync(Path.Combine(source, "b.txt"), "second tree, other files");
            var other = await host.Backups.RunAsync(BackupSources.FromFileTree(new HealthMate.Backup.FileTree.FileTreeSourceOptions { Paths = { source } }));
            File.Copy(host.PathOf(other.Manifest.Objects!["index"].Key), host.PathOf(victim.Manifest.Objects!["index"].Key), overwrite: true);
            var runner = host.Services.GetRequiredService<HealthMate.Backup.Pipeline.RestoreRunner>();

            var error = await Record.ExceptionAsync(async () =>
            {
                await using var index = await runner.OpenObjectAsync(victim.Manifest, "index", CancellationToken.None);
                var first = new byte[1];
                Assert.Fail($"the index of another backup was read: {await index.ReadAsync(first)} byte(s)");
            });

            Assert.IsAssignableFrom<BackupIntegrityException>(error);
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }

    /// <summary>Counts what reaches it, as a side-effecting target (pg_restore) would act on it.</summary>
    private sealed class RecordingTarget : IRestoreTarget
    {
        internal long BytesSeen { get; private set; }

        public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default)
        {
            var buffer = new byte[4096];
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                BytesSeen += read;
            }
        }
    }
}
