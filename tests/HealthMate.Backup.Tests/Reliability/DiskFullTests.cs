using HealthMate.Backup.FileTree;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// The fault-injection suite's disk-full part (issue 13): a real, small file system (a size-limited tmpfs) as the local
/// storage and as the restore target. A backup, a WAL push or a restore that runs out of space fails with an error
/// naming its stage, commits nothing, leaves no partial object or file, and never touches what was there before.
/// </summary>
public sealed class DiskFullTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-full-").FullName;
    private int _injected;

    public void Dispose()
    {
        SmallFileSystem.UnmountAll(_work);
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task StorageFillsUp_DuringDataOrManifest_TheRunFailsNamingTheStage_AndOlderBackupsStayIntact()
    {
        var store = SmallFileSystem.Mount(Path.Combine(_work, "store"), megabytes: 8);
        using var host = new TestHost(o => (o.Compression.Algorithm, o.Encryption.SegmentSize) = (HealthMate.Backup.Compression.CompressionAlgorithm.None, 64 * 1024), root: store, keepRoot: true, services: s => s.AddBackupDR().AddPostgreSql());
        var older = Payloads.Create(2 * 1024 * 1024, seed: 1, style: 0);
        var first = await host.BackupBytesAsync(older);

        // Data: 16 MiB into the 6 MiB left.
        var error = await Assert.ThrowsAsync<BackupStageException>(() => host.BackupBytesAsync(Payloads.Create(16 * 1024 * 1024, seed: 2, style: 0)));
        _injected++;
        Assert.Equal(PipelineStage.Store, error.Stage);
        Assert.Contains("No space left on device", error.ToString(), StringComparison.Ordinal);
        await AssertOnlyAsync(host, first.BackupId, older);

        // Fill the rest to one page, then a backup whose data fits but whose manifest does not.
        var filler = Path.Combine(store, "filler");
        await FillAsync(filler, leave: 4096);
        var tiny = await Record.ExceptionAsync(() => host.BackupBytesAsync(new byte[1024]));
        _injected++;
        Assert.Equal(PipelineStage.Manifest, Assert.IsType<BackupStageException>(tiny).Stage); // certainly not stored: its data goes
        await AssertOnlyAsync(host, first.BackupId, older);

        // A WAL push that does not fit is not acknowledged; once there is room, it is.
        var segment = Path.Combine(_work, "000000010000000000000091");
        await File.WriteAllBytesAsync(segment, Payloads.Create(1024 * 1024, seed: 3, style: 0));
        var archive = host.Services.GetRequiredService<WalArchive>();
        await Assert.ThrowsAnyAsync<BackupException>(() => archive.PushAsync(segment, new WalArchiveOptions { SystemIdentifier = "7600000000000000001" }));
        _injected++;
        Assert.DoesNotContain(host.AllFiles(), f => f.StartsWith("wal/", StringComparison.Ordinal) && f.EndsWith(".manifest.json", StringComparison.Ordinal));

        File.Delete(filler);
        Assert.Equal(WalPushOutcome.Stored, (await archive.PushAsync(segment, new WalArchiveOptions { SystemIdentifier = "7600000000000000001" })).Outcome);
        var next = await host.BackupBytesAsync([7, 8, 9]);
        Assert.Equal([first.BackupId, next.BackupId], await host.Catalog.ListAsync().Select(m => m.BackupId).ToListAsync());
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
        Report("disk-full-storage");
    }

    [Fact]
    public async Task RestoreTargetFillsUp_TheRestoreFailsNamingTheTarget_AndLeavesNothingThere()
    {
        var source = Directory.CreateDirectory(Path.Combine(_work, "source", "tree")).FullName;
        for (var i = 0; i < 6; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(source, $"file-{i}.bin"), Payloads.Create(2 * 1024 * 1024, seed: i, style: 0));
        }

        using var host = new TestHost();
        var tree = await host.Backups.RunAsync(BackupSources.FromFileTree(new FileTreeSourceOptions { Paths = { source } }));
        var single = await host.BackupBytesAsync(Payloads.Create(10 * 1024 * 1024, seed: 9, style: 0));
        var volume = SmallFileSystem.Mount(Path.Combine(_work, "volume"), megabytes: 4);
        await File.WriteAllTextAsync(Path.Combine(volume, "kept.txt"), "was here before");

        // A tree into a folder on the small volume: nothing of it stays, and the volume's other content is untouched.
        var target = Path.Combine(volume, "restored");
        var error = await Assert.ThrowsAsync<BackupStageException>(() => host.Services.GetRequiredService<IFileTreeRestoreRunner>().RestoreAsync(tree.BackupId, target).AsTask());
        _injected++;
        Assert.Equal(PipelineStage.Target, error.Stage);
        Assert.Contains("No space left on device", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("nothing was written to the target", Assert.IsType<DirectoryRestoreException>(error.InnerException).Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(target));
        Assert.Equal(["kept.txt"], Directory.GetFileSystemEntries(volume).Select(Path.GetFileName));

        // A single file: no partial file, no temporary file.
        var file = Path.Combine(volume, "restored.bin");
        var fileError = await Assert.ThrowsAsync<BackupStageException>(() => host.Restores.RestoreAsync(single.BackupId, RestoreTargets.ToFile(file)).AsTask());
        _injected++;
        Assert.Equal(PipelineStage.Target, fileError.Stage);
        Assert.Equal(["kept.txt"], Directory.GetFileSystemEntries(volume).Select(Path.GetFileName));
        Assert.Equal("was here before", await File.ReadAllTextAsync(Path.Combine(volume, "kept.txt")));
        Report("disk-full-restore");
    }

    private static async Task AssertOnlyAsync(TestHost host, string backupId, byte[] payload)
    {
        Assert.Equal([backupId], await host.Catalog.ListAsync().Select(m => m.BackupId).ToListAsync());
        Assert.Equal(payload, await host.RestoreBytesAsync(backupId));
        Assert.DoesNotContain(host.AllFiles(), f => Path.GetFileName(f).StartsWith(".hmb-tmp-", StringComparison.Ordinal));
        Assert.Equal(2, host.AllFiles().Count(f => f.StartsWith("backups/", StringComparison.Ordinal))); // its data and manifest, nothing else
    }

    /// <summary>Writes a file until the file system has about <paramref name="leave"/> bytes free.</summary>
    private static async Task FillAsync(string path, long leave)
    {
        var free = new DriveInfo(Path.GetDirectoryName(path)!).AvailableFreeSpace;
        await File.WriteAllBytesAsync(path, new byte[Math.Max(0, free - leave)]);
    }

    private void Report(string suite)
    {
        output.WriteLine($"{suite}: {_injected} out-of-space failures injected; nothing committed, nothing older touched");
        FaultCounts.Write(suite, $"{_injected} out-of-space failures; committed 0; older data damaged 0");
    }
}
