using HealthMate.Backup.Storage;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Pipeline;

/// <summary>
/// Regression: after a run aborted, the pipe behind the source no longer waits, so it no longer observed cancellation;
/// a source that writes in a loop spun forever and RunAsync never returned (seen as an intermittent hang of
/// RunAsync_CancelledMidway). The source's stream now checks the run's token on every write.
/// </summary>
public sealed class Regression_EndlessSourceAfterAbortTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task StoreFails_WhileASourceWritesForeverIgnoringItsToken_RunAsyncStillReturns()
    {
        var root = Directory.CreateTempSubdirectory("hmb-endless-").FullName;
        try
        {
            using var host = new TestHost(services: s =>
            {
                s.AddKeyedSingleton<IStorageProvider>("failing", (_, _) => new FailingStorage(new HealthMate.Backup.Storage.Local.LocalDiskStorageProvider(new() { Path = root, FlushToDisk = false }), failAfterBytes: 2_000_000));
                s.PostConfigure<BackupDROptions>(o => o.Storage.Provider = "failing");
            });
            var block = Payloads.Create(256 * 1024, 1, 0);
            for (var i = 0; i < 20; i++)
            {
                var endless = BackupSources.Create("stream", "endless", async (destination, _, _) =>
                {
                    while (true)
                    {
                        await destination.WriteAsync(block, CancellationToken.None);
                    }
                });

                var run = host.Backups.RunAsync(endless).AsTask();
                var error = await Assert.ThrowsAsync<BackupStageException>(() => run.WaitAsync(HangGuard));
                Assert.Equal(PipelineStage.Store, error.Stage);
            }

            Assert.Empty(Directory.GetFiles(root, "*", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task CancelledByTheCaller_WhileASourceWritesForever_RunAsyncReturns()
    {
        using var host = new TestHost();
        var block = Payloads.Create(256 * 1024, 2, 0);
        for (var i = 0; i < 20; i++)
        {
            using var cancellation = new CancellationTokenSource();
            var written = 0;
            var endless = BackupSources.Create("stream", "endless", async (destination, _, _) =>
            {
                while (true)
                {
                    await destination.WriteAsync(block, CancellationToken.None);
                    if (++written == 4)
                    {
                        await cancellation.CancelAsync();
                    }
                }
            });

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => host.Backups.RunAsync(endless, cancellationToken: cancellation.Token).AsTask().WaitAsync(HangGuard));
        }

        Assert.Empty(host.AllFiles());
    }
}
