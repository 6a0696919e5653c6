using System.Text;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.Pipeline;

/// <summary>Companion objects (an index, a globals dump) are stored, checksummed, verified and readable by child backups.</summary>
public sealed class CompanionObjectTests : IDisposable
{
    private readonly TestHost _host = new();

    public void Dispose() => _host.Dispose();

    [Fact]
    public async Task AttachedObject_IsStoredEncryptedAndVerified_AndAChildReadsIt()
    {
        var full = await _host.Backups.RunAsync(BackupSources.Create("stream", "with index", async (destination, context, ct) =>
        {
            await destination.WriteAsync("data"u8.ToArray(), ct);
            context.AttachObject("index", Encoding.UTF8.GetBytes("the index of the full backup"));
        }));

        var descriptor = Assert.Single(full.Manifest.Objects!);
        Assert.Equal("index", descriptor.Key);
        var stored = await File.ReadAllBytesAsync(_host.PathOf(descriptor.Value.Key));
        Assert.Equal(descriptor.Value.StoredSize, stored.Length);
        Assert.DoesNotContain("the index", Encoding.UTF8.GetString(stored), StringComparison.Ordinal);
        Assert.True((await _host.Verifier.VerifyAsync(full.BackupId)).IsValid);

        string? seenByChild = null;
        await _host.Backups.RunAsync(
            BackupSources.Create("stream", "child", async (_, context, ct) => seenByChild = Encoding.UTF8.GetString(await context.ReadParentObjectAsync!("index", ct))),
            new BackupRequest { Type = BackupType.Incremental, ParentId = full.BackupId });
        Assert.Equal("the index of the full backup", seenByChild);

        stored[^3] ^= 1;
        await File.WriteAllBytesAsync(_host.PathOf(descriptor.Value.Key), stored);
        Assert.IsAssignableFrom<BackupIntegrityException>((await _host.Verifier.VerifyAsync(full.BackupId, VerificationLevel.Checksum)).Failure);
        Assert.IsAssignableFrom<BackupIntegrityException>((await _host.Verifier.VerifyAsync(full.BackupId, VerificationLevel.Full)).Failure);
    }

    [Fact]
    public async Task Differential_MustBuildOnAFullBackup()
    {
        var full = await _host.BackupBytesAsync([1]);
        var incremental = await _host.Backups.RunAsync(TestHost.BytesSource([2], 1), new BackupRequest { Type = BackupType.Incremental, ParentId = full.BackupId });

        await Assert.ThrowsAsync<ArgumentException>(() => _host.Backups.RunAsync(TestHost.BytesSource([3], 1), new BackupRequest { Type = BackupType.Differential, ParentId = incremental.BackupId }).AsTask());
    }

    [Fact]
    public void ObjectNames_AreValidated()
    {
        var context = new BackupContext("20261126T000000000Z-00000000", BackupType.Full, null);

        Assert.Throws<ArgumentException>(() => context.AttachObject("data", new byte[1]));
        Assert.Throws<ArgumentException>(() => context.AttachObject("../x", new byte[1]));
        Assert.Throws<ArgumentException>(() => context.AttachObject("Index", new byte[1]));
    }
}
