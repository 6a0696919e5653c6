using HealthMate.Backup.Catalog;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Pipeline;

/// <summary>A failed or cancelled run never looks complete, leaves nothing behind, and never touches an older backup.</summary>
public sealed class FailureTests : IDisposable
{
    private readonly TestHost _host = new(o => o.Compression.BlockSize = 64 * 1024);

    public void Dispose() => _host.Dispose();

    [Fact]
    public async Task RunAsync_SourceThrowsMidway_LeavesNoObjectAndOlderBackupUntouched()
    {
        var older = await _host.BackupBytesAsync(Payloads.Create(500_000, 1, 1));
        var before = Snapshot();
        var source = BackupSources.Create("stream", "failing", async (destination, _, cancellationToken) =>
        {
            await destination.WriteAsync(Payloads.Create(3_000_000, 2, 0), cancellationToken);
            throw new IOException("disk of the source went away");
        });

        var error = await Assert.ThrowsAsync<BackupStageException>(() => _host.Backups.RunAsync(source).AsTask());

        Assert.Equal(PipelineStage.Source, error.Stage);
        Assert.IsType<IOException>(error.InnerException);
        Assert.Contains("Source", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
        Assert.Equal(Payloads.Create(500_000, 1, 1), await _host.RestoreBytesAsync(older.BackupId));
        Assert.Single(await _host.Catalog.ListAsync().ToListAsync());
    }

    [Fact]
    public async Task RunAsync_CancelledMidway_LeavesNoObjectAndOlderBackupUntouched()
    {
        var older = await _host.BackupBytesAsync(Payloads.Create(200_000, 3, 1));
        var before = Snapshot();
        using var cancellation = new CancellationTokenSource();
        var source = BackupSources.Create("stream", "endless", async (destination, _, cancellationToken) =>
        {
            var block = Payloads.Create(256 * 1024, 4, 0);
            for (var i = 0; ; i++)
            {
                await destination.WriteAsync(block, cancellationToken);
                if (i == 8)
                {
                    await cancellation.CancelAsync();
                }
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _host.Backups.RunAsync(source, cancellationToken: cancellation.Token).AsTask());

        Assert.Equal(before, Snapshot());
        Assert.Equal(Payloads.Create(200_000, 3, 1), await _host.RestoreBytesAsync(older.BackupId));
    }

    [Fact]
    public async Task RunAsync_StorageFailsMidway_NamesStoreStageAndLeavesNothing()
    {
        using var host = new TestHost(services: s =>
        {
            s.AddKeyedSingleton<IStorageProvider>("failing", (sp, _) => new FailingStorage(new HealthMate.Backup.Storage.Local.LocalDiskStorageProvider(new() { Path = _host.Root + "-failing", FlushToDisk = false }), failAfterBytes: 1_000_000));
            s.PostConfigure<BackupDROptions>(o => o.Storage.Provider = "failing");
        });
        var error = await Assert.ThrowsAsync<BackupStageException>(() => host.BackupBytesAsync(Payloads.Create(5_000_000, 5, 0)));

        Assert.Equal(PipelineStage.Store, error.Stage);
        Assert.Equal("failing", host.Storage.Name);
        Assert.Empty(await host.Storage.ListAsync("").ToListAsync());
        Assert.Empty(Directory.Exists(_host.Root + "-failing") ? Directory.GetFiles(_host.Root + "-failing", "*", SearchOption.AllDirectories) : []);
    }

    [Fact]
    public async Task RestoreAsync_TargetThrows_NamesTargetStage()
    {
        var backup = await _host.BackupBytesAsync(Payloads.Create(3_000_000, 6, 1));
        var target = new ThrowingTarget();

        var error = await Assert.ThrowsAsync<BackupStageException>(() => _host.Restores.RestoreAsync(backup.BackupId, target).AsTask());

        Assert.Equal(PipelineStage.Target, error.Stage);
        Assert.IsType<InvalidOperationException>(error.InnerException);
    }

    [Fact]
    public async Task RestoreAsync_ToFile_CorruptData_LeavesNoFile()
    {
        var backup = await _host.BackupBytesAsync(Payloads.Create(3_000_000, 8, 0));
        var path = _host.PathOf(backup.Manifest.Data.Key);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[^10] ^= 0x40;
        await File.WriteAllBytesAsync(path, bytes);
        var outputDir = Directory.CreateTempSubdirectory("hmb-out-").FullName;
        try
        {
            var output = Path.Combine(outputDir, "restored.bin");
            await Assert.ThrowsAnyAsync<BackupIntegrityException>(() => _host.Restores.RestoreAsync(backup.BackupId, RestoreTargets.ToFile(output)).AsTask());
            Assert.Empty(Directory.GetFiles(outputDir));
        }
        finally
        {
            Directory.Delete(outputDir, recursive: true);
        }
    }

    [Fact]
    public async Task RestoreAsync_ToFile_WritesTheFileOnlyWhenVerified()
    {
        var payload = Payloads.Create(2_500_000, 9, 2);
        var backup = await _host.BackupBytesAsync(payload);
        var outputDir = Directory.CreateTempSubdirectory("hmb-out-").FullName;
        try
        {
            var output = Path.Combine(outputDir, "restored.bin");
            var result = await _host.Restores.RestoreAsync(backup.BackupId, RestoreTargets.ToFile(output));
            Assert.Equal(payload, await File.ReadAllBytesAsync(output));
            Assert.Equal(payload.Length, result.BytesRestored);
            await Assert.ThrowsAsync<IOException>(() => _host.Restores.RestoreAsync(backup.BackupId, RestoreTargets.ToFile(output)).AsTask().ContinueWith(t => throw t.Exception!.InnerException!.InnerException!));
        }
        finally
        {
            Directory.Delete(outputDir, recursive: true);
        }
    }

    [Fact]
    public async Task RestoreAsync_ToFile_CancelledMidway_LeavesNoFile()
    {
        var backup = await _host.BackupBytesAsync(Payloads.Create(4_000_000, 13, 0));
        var outputDir = Directory.CreateTempSubdirectory("hmb-out-").FullName;
        try
        {
            using var cancellation = new CancellationTokenSource();
            var target = new CancelAfterTarget(RestoreTargets.ToFile(Path.Combine(outputDir, "r.bin")), cancellation, afterBytes: 1_000_000);

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _host.Restores.RestoreAsync(backup.BackupId, target, cancellationToken: cancellation.Token).AsTask());
            Assert.Empty(Directory.GetFiles(outputDir));
        }
        finally
        {
            Directory.Delete(outputDir, recursive: true);
        }
    }

    [Fact]
    public async Task RunAsync_IncrementalWithoutParent_IsRejectedBeforeAnythingIsWritten()
    {
        var source = TestHost.BytesSource([1, 2, 3], 1);

        await Assert.ThrowsAsync<ArgumentException>(() => _host.Backups.RunAsync(source, new BackupRequest { Type = BackupType.Incremental }).AsTask());
        await Assert.ThrowsAsync<BackupNotFoundException>(() => _host.Backups.RunAsync(source, new BackupRequest { Type = BackupType.Differential, ParentId = "20200101T000000000Z-00000000" }).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => _host.Backups.RunAsync(BackupSources.Create("Bad Kind", "x", (_, _, _) => ValueTask.CompletedTask)).AsTask());
        Assert.Empty(_host.AllFiles());
    }

    [Fact]
    public async Task RunAsync_Incremental_RecordsItsParent()
    {
        var full = await _host.BackupBytesAsync([1, 2, 3]);
        var incremental = await _host.Backups.RunAsync(TestHost.BytesSource([4], 1), new BackupRequest { Type = BackupType.Incremental, ParentId = full.BackupId });

        var loaded = await _host.Catalog.GetAsync(incremental.BackupId);
        Assert.Equal(full.BackupId, loaded.ParentId);
        Assert.Equal(BackupType.Incremental, loaded.Type);
    }

    [Fact]
    public async Task RunAsync_ReportsProgressEndingWithTheTotals()
    {
        var payload = Payloads.Create(2_000_000, 10, 1);
        var reports = new List<PipelineProgress>();
        var progress = new SynchronousProgress(reports.Add);

        var result = await _host.Backups.RunAsync(TestHost.BytesSource(payload, 65536), progress: progress);

        var last = reports[^1];
        Assert.Equal(PipelineStage.Completed, last.Stage);
        Assert.Equal(payload.Length, last.BytesRead);
        Assert.Equal(result.Manifest.Data.StoredSize, last.BytesWritten);
    }

    private string[] Snapshot() => _host.AllFiles().Select(f => f + ":" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(_host.PathOf(f))))).ToArray();

    private sealed class ThrowingTarget : IRestoreTarget
    {
        public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default)
        {
            var buffer = new byte[100_000];
            await source.ReadAtLeastAsync(buffer, buffer.Length, cancellationToken: cancellationToken);
            throw new InvalidOperationException("the database refused the restore");
        }
    }

    /// <summary>Hands the restore to an inner target, and cancels the run once that target has read some bytes.</summary>
    private sealed class CancelAfterTarget(IRestoreTarget inner, CancellationTokenSource cancellation, long afterBytes) : IRestoreTarget
    {
        public ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default) =>
            inner.RestoreFromAsync(new CountingStream(source, cancellation, afterBytes), context, cancellationToken);

        private sealed class CountingStream(Stream inner, CancellationTokenSource cancellation, long afterBytes) : Stream
        {
            private long _read;

            public override bool CanRead => true;

            public override bool CanSeek => false;

            public override bool CanWrite => false;

            public override long Length => throw new NotSupportedException();

            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                var read = await inner.ReadAsync(buffer, cancellationToken);
                _read += read;
                if (_read > afterBytes)
                {
                    await cancellation.CancelAsync();
                }

                return read;
            }

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override void Flush()
            {
            }

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }
    }

    private sealed class SynchronousProgress(Action<PipelineProgress> report) : IProgress<PipelineProgress>
    {
        public void Report(PipelineProgress value) => report(value);
    }
}
