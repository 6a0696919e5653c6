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
            BackupSources.Create("stream", "child", async (_, context, ct) => seenByChild = Encoding.UTF8.GetString(await ReadAllAsync(await context.OpenParentObjectAsync!("index", ct), ct))),
            new BackupRequest { Type = BackupType.Incremental, ParentId = full.BackupId });
        Assert.Equal("the index of the full backup", seenByChild);

        stored[^3] ^= 1;
        await File.WriteAllBytesAsync(_host.PathOf(descriptor.Value.Key), stored);
        Assert.IsAssignableFrom<BackupIntegrityException>((await _host.Verifier.VerifyAsync(full.BackupId, VerificationLevel.Checksum)).Failure);
        Assert.IsAssignableFrom<BackupIntegrityException>((await _host.Verifier.VerifyAsync(full.BackupId, VerificationLevel.Full)).Failure);
    }

    [Fact]
    public async Task StreamedObject_WrittenAlongsideTheData_IsStoredAndReadBackAsAStream()
    {
        // Larger than the object's pipe, written interleaved with the data: neither may wait for the other to finish.
        var data = Payloads.Create(3 * 1024 * 1024, seed: 1, style: 1);
        var index = Payloads.Create(5 * 1024 * 1024 + 17, seed: 2, style: 1);
        var full = await _host.Backups.RunAsync(BackupSources.Create("stream", "streamed", async (destination, context, ct) =>
        {
            var stream = await context.OpenObjectAsync("index", ct);
            await using (stream)
            {
                for (int d = 0, i = 0; d < data.Length || i < index.Length; d += 65536, i += 100_000)
                {
                    if (d < data.Length)
                    {
                        await destination.WriteAsync(data.AsMemory(d, Math.Min(65536, data.Length - d)), ct);
                    }

                    if (i < index.Length)
                    {
                        await stream.WriteAsync(index.AsMemory(i, Math.Min(100_000, index.Length - i)), ct);
                    }
                }
            }
        }));

        Assert.Equal(index.Length, full.Manifest.Objects!["index"].PlaintextSize);
        Assert.Equal(data, await _host.RestoreBytesAsync(full.BackupId));
        Assert.True((await _host.Verifier.VerifyAsync(full.BackupId)).IsValid);
        byte[]? seen = null;
        await _host.Backups.RunAsync(
            BackupSources.Create("stream", "child", async (_, context, ct) => seen = await ReadAllAsync(await context.OpenParentObjectAsync!("index", ct), ct)),
            new BackupRequest { Type = BackupType.Incremental, ParentId = full.BackupId });
        Assert.Equal(index, seen);

        // A child that stops reading its parent's object early does not hang or fail its own backup.
        await _host.Backups.RunAsync(
            BackupSources.Create("stream", "child", async (_, context, ct) =>
            {
                var stream = await context.OpenParentObjectAsync!("index", ct);
                await using (stream)
                {
                    await stream.ReadExactlyAsync(new byte[1000], ct);
                }
            }),
            new BackupRequest { Type = BackupType.Incremental, ParentId = full.BackupId });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FailedSource_LeavesNoStreamedObjectBehind(bool closeFirst)
    {
        var good = await _host.BackupBytesAsync([1, 2, 3]);
        var before = _host.AllFiles();

        var error = await Assert.ThrowsAsync<BackupStageException>(() => _host.Backups.RunAsync(BackupSources.Create("stream", "failing", async (destination, context, ct) =>
        {
            var stream = await context.OpenObjectAsync("index", ct);
            await stream.WriteAsync(new byte[300_000], ct);
            await destination.WriteAsync(new byte[300_000], ct);
            if (closeFirst)
            {
                await stream.DisposeAsync();
            }

            throw new IOException("the source broke");
        })).AsTask());

        Assert.Equal(PipelineStage.Source, error.Stage);
        Assert.Equal(before, _host.AllFiles());
        Assert.Equal(good.BackupId, Assert.Single(await _host.Catalog.ListAsync().ToListAsync()).BackupId);
    }

    [Fact]
    public async Task ObjectNames_AreUsedOnce()
    {
        await _host.Backups.RunAsync(BackupSources.Create("stream", "twice", async (_, context, ct) =>
        {
            await using (await context.OpenObjectAsync("index", ct))
            {
                await Assert.ThrowsAsync<ArgumentException>(() => context.OpenObjectAsync("index", ct).AsTask());
                Assert.Throws<ArgumentException>(() => context.AttachObject("index", new byte[1]));
            }
        }));
        Assert.Throws<InvalidOperationException>(() => new BackupContext("20261126T000000000Z-00000000", BackupType.Full, null).OpenObjectAsync("index"));
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream, CancellationToken cancellationToken)
    {
        await using (stream)
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken);
            return buffer.ToArray();
        }
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
