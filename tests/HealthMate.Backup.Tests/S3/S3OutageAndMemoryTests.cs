using System.Security.Cryptography;
using HealthMate.Backup.S3;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.S3;

/// <summary>An S3 outage mid-upload, and a 2 GiB backup with the process's managed memory measured.</summary>
[Collection(RgwCollection.Name)]
public sealed class S3OutageAndMemoryTests(RgwFixture rgw, Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private string _bucket = null!;

    public async Task InitializeAsync() => _bucket = await rgw.CreateBucketAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task GatewayStoppedMidUpload_FailsTheBackupCleanly_AndTheNextBackupAfterRestartSucceeds()
    {
        var options = rgw.Options(_bucket);
        options.MaxRetries = 1;
        options.RequestTimeout = TimeSpan.FromSeconds(10);
        using var host = RgwFixture.Host(options);
        var first = await host.BackupBytesAsync([1, 2, 3]);
        var writing = host.Backups.RunAsync(BackupSources.Create("stream", "slow", async (destination, _, ct) =>
        {
            for (var i = 0; i < 200; i++)
            {
                await destination.WriteAsync(Payloads.Create(1024 * 1024, i, 0), ct);
                await Task.Delay(25, ct);
            }
        })).AsTask();

        try
        {
            await Task.Delay(1500);
            await rgw.SetGatewayAsync(running: false);
            var error = await Assert.ThrowsAnyAsync<BackupException>(() => writing);
            Assert.Contains(_bucket, error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            await rgw.SetGatewayAsync(running: true);
        }

        var next = await host.BackupBytesAsync([4, 5, 6]);
        Assert.Equal([first.BackupId, next.BackupId], await host.Catalog.ListAsync().Select(m => m.BackupId).ToListAsync());
        using var provider = new S3StorageProvider(rgw.Options(_bucket));
        Assert.Equal(await rgw.OpenUploadsAsync(_bucket), await provider.AbortIncompleteUploadsAsync(TimeSpan.Zero));
        Assert.Equal(0, await rgw.OpenUploadsAsync(_bucket));
    }

    [Fact]
    public async Task TwoGiB_StreamToS3_WithManagedMemoryBounded_AndRestoreByteEqual()
    {
        const int Chunk = 1024 * 1024;
        const int Chunks = 2048;
        var options = rgw.Options(_bucket, partSize: 16 * 1024 * 1024);
        options.PartsInFlight = 4;
        using var host = RgwFixture.Host(options);
        using var expected = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        // The heap as the rest of the test run left it, collected: what this backup adds is measured above it.
        using var sampler = new HeapSampler(baseline: GC.GetTotalMemory(forceFullCollection: true));
        output.WriteLine($"managed heap before: {sampler.BaselineMiB:F0} MiB");

        var backup = await host.Backups.RunAsync(BackupSources.Create("stream", "two gib", async (destination, _, ct) =>
        {
            var buffer = new byte[Chunk];
            for (var i = 0; i < Chunks; i++)
            {
                new Random(i).NextBytes(buffer); // incompressible: 2 GiB really goes to S3
                expected.AppendData(buffer);
                await destination.WriteAsync(buffer, ct);
            }
        }));
        var backupPeak = sampler.PeakMiB;
        output.WriteLine($"managed heap peak during the 2 GiB backup, above that: {backupPeak:F0} MiB");

        Assert.Equal((long)Chunk * Chunks, backup.Manifest.Data.PlaintextSize);
        Assert.Equal(Convert.ToHexStringLower(expected.GetHashAndReset()), backup.Manifest.Data.PlaintextSha256);
        // 4 parts of 16 MiB in flight plus one filling, the pipeline's bounded queues and the test's own buffers:
        // about 150 MiB at most, whatever the size of the backup (2 GiB here).
        Assert.True(backupPeak < 300, $"managed heap peaked at {backupPeak:F0} MiB during a 2 GiB backup");

        using var restored = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await host.Restores.RestoreAsync(backup.BackupId, new HashingTarget(restored));
        Assert.Equal(backup.Manifest.Data.PlaintextSha256, Convert.ToHexStringLower(restored.GetHashAndReset()));
        output.WriteLine($"managed heap peak over backup and restore, above that: {sampler.PeakMiB:F0} MiB");
        Assert.True(sampler.PeakMiB < 300, $"managed heap peaked at {sampler.PeakMiB:F0} MiB during the restore");
    }

    private sealed class HashingTarget(IncrementalHash hash) : IRestoreTarget
    {
        public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default)
        {
            var buffer = new byte[1024 * 1024];
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }
        }
    }

    /// <summary>Samples the managed heap (bytes in use after the last GC plus what was allocated since) every 20 ms,
    /// above a baseline taken after a full collection.</summary>
    private sealed class HeapSampler : IDisposable
    {
        private readonly long _baseline;

        private readonly CancellationTokenSource _stop = new();
        private readonly Task _sampling;
        private long _peak;

        internal HeapSampler(long baseline)
        {
            _baseline = baseline;
            _sampling = Task.Run(SampleAsync);
        }

        internal double BaselineMiB => _baseline / 1048576.0;

        private async Task SampleAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                var bytes = GC.GetTotalMemory(forceFullCollection: false);
                if (bytes > Interlocked.Read(ref _peak))
                {
                    Interlocked.Exchange(ref _peak, bytes);
                }

                await Task.Delay(20);
            }
        }

        internal double PeakMiB => (Interlocked.Read(ref _peak) - _baseline) / 1048576.0;

        public void Dispose()
        {
            _stop.Cancel();
            _sampling.Wait();
            _stop.Dispose();
        }
    }
}
