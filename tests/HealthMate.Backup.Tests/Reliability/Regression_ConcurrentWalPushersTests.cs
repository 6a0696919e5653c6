using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 13, defect 2: two pushers of one WAL name (archive_mode = always on a primary and a standby, or a stale
/// archiver) used to delete each other's data: the second saw data without a manifest, deleted it, and the first then
/// committed a manifest for data that was gone. Each interleaving is forced with hooks on the storage.
/// </summary>
public sealed class Regression_ConcurrentWalPushersTests : IDisposable
{
    private const string SystemId = "7300000000000000002";
    private const string Name = "000000010000000000000051";
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-pushers-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task ASecondPusherRunningWhileTheFirstIsBetweenDataAndManifest_LosesNothing()
    {
        var hooked = default(HookedStorage);
        using var host = new TestHost(services: s => s.AddBackupDR().AddPostgreSql(), wrapStorage: inner => hooked = new HookedStorage(inner));
        var archive = host.Services.GetRequiredService<WalArchive>();
        var (segment, content) = Segment();
        var firstAtManifest = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var manifestCommits = 0;
        hooked!.BeforeCommit = async key =>
        {
            if (key.EndsWith(".manifest.json", StringComparison.Ordinal) && Interlocked.Increment(ref manifestCommits) == 1)
            {
                // The first pusher has committed its data and is about to commit its manifest: hold it there.
                firstAtManifest.SetResult();
                await secondDone.Task;
            }
        };

        var first = Task.Run(() => archive.PushAsync(segment, Options()));
        await firstAtManifest.Task;
        var second = await Record.ExceptionAsync(() => archive.PushAsync(segment, Options()));
        secondDone.SetResult();
        var firstError = await Record.ExceptionAsync(() => first);

        // Each pusher either acknowledged the file or reported a failure (PostgreSQL retries those); what was
        // acknowledged is there.
        Assert.True(second is null || firstError is null, $"neither push was acknowledged: {second?.Message} / {firstError?.Message}");
        await AssertFetchesAsync(archive, content);
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
        Assert.Equal(WalPushOutcome.AlreadyArchived, (await archive.PushAsync(segment, Options())).Outcome);
    }

    [Fact]
    public async Task ManyConcurrentPushesOfOneSegment_AllAcknowledge_AndTheSegmentIsThere()
    {
        using var host = new TestHost(services: s => s.AddBackupDR().AddPostgreSql());
        var archive = host.Services.GetRequiredService<WalArchive>();
        var (segment, content) = Segment();

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => archive.PushAsync(segment, Options()))));

        Assert.Single(results, r => r.Outcome == WalPushOutcome.Stored);
        Assert.All(results, r => Assert.Equal(content.Length, r.Bytes));
        await AssertFetchesAsync(archive, content);
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
    }

    private async Task AssertFetchesAsync(WalArchive archive, byte[] content)
    {
        var fetched = Path.Combine(_work, $"fetched-{Guid.NewGuid():N}");
        Assert.True(await archive.FetchAsync(Name, fetched, Options()));
        Assert.Equal(content, await File.ReadAllBytesAsync(fetched));
    }

    private (string Path, byte[] Content) Segment()
    {
        var content = Payloads.Create(2 * 1024 * 1024, seed: 51, style: 2);
        var path = Path.Combine(_work, Name);
        File.WriteAllBytes(path, content);
        return (path, content);
    }

    private static WalArchiveOptions Options() => new() { SystemIdentifier = SystemId };
}
