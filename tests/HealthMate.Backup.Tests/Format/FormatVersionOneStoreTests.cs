using HealthMate.Backup.FileTree;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Retention;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Format;

/// <summary>
/// Format 2 changed how encrypted objects authenticate and where archived WAL data lives; stores written before must
/// still restore. Vectors/format-v1-store was written by the format-1 library (commit 4d8a9d8): today's library lists,
/// verifies and restores it, fetches its WAL, accepts a re-push of that WAL as already archived, adds format-2 backups
/// beside it, and retention handles both layouts.
/// </summary>
public sealed class FormatVersionOneStoreTests : IDisposable
{
    private const string StreamId = "20261201T043917432Z-c0d47d7e";
    private const string FilesId = "20261201T043917571Z-7fa75172";
    private const string Segment = "000000010000000000000007";
    private const string SystemId = "7100000000000000001";
    private static readonly byte[] Key = Enumerable.Range(0, 32).Select(i => (byte)(0xA0 + i)).ToArray();
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-v1-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task AFormatOneStore_ListsVerifiesAndRestores_AndTakesFormatTwoBesideIt()
    {
        var root = Path.Combine(_work, "store");
        TestHost.CopyTree(Path.Combine(AppContext.BaseDirectory, "Vectors", "format-v1-store"), root);
        using var host = new TestHost(root: root, key: Key, keepRoot: true, services: s => s.AddBackupDR().AddPostgreSql());

        var entries = await host.Catalog.ListEntriesAsync().ToListAsync();
        Assert.Equal([StreamId, FilesId], entries.Select(e => e.BackupId));
        Assert.All(entries, e => Assert.Equal(1, e.Manifest!.FormatVersion));
        Assert.Equal(Payloads.Create(300_000, seed: 42, style: 1), await host.RestoreBytesAsync(StreamId));
        foreach (var entry in entries)
        {
            var result = await host.Verifier.VerifyAsync(entry.BackupId);
            Assert.True(result.IsValid, result.Failure?.Message);
        }

        var target = Path.Combine(_work, "restored");
        await host.Services.GetRequiredService<IFileTreeRestoreRunner>().RestoreAsync(FilesId, target);
        Assert.Equal("format one, file a\n", await File.ReadAllTextAsync(Path.Combine(target, "records", "a.txt")));
        Assert.Equal(Payloads.Create(70_000, seed: 7, style: 0), await File.ReadAllBytesAsync(Path.Combine(target, "records", "nested", "b.bin")));

        var archive = host.Services.GetRequiredService<WalArchive>();
        var fetched = Path.Combine(_work, Segment);
        Assert.True(await archive.FetchAsync(Segment, fetched, new WalArchiveOptions { SystemIdentifier = SystemId }));
        Assert.Equal(Payloads.Create(100_000, seed: 8, style: 0), await File.ReadAllBytesAsync(fetched));
        Assert.Equal(WalPushOutcome.AlreadyArchived, (await archive.PushAsync(fetched, new WalArchiveOptions { SystemIdentifier = SystemId })).Outcome);

        var added = await host.BackupBytesAsync([1, 2, 3]);
        Assert.Equal(2, (await host.Catalog.FindAsync(added.BackupId))!.FormatVersion);
        var plan = await host.Services.GetRequiredService<IBackupRetention>().PlanAsync();
        Assert.Empty(plan.IncompleteUploads); // the format-1 WAL data, at its name, is named by its manifest
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
    }
}
