using System.Formats.Tar;
using HealthMate.Backup.FileTree;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.FileTree;

/// <summary>
/// A restore or deep verify walks the point's index alongside each archive. A file the index lists but the archive
/// lacks, or an archive out of index order, is an error naming the path, never a silently smaller tree.
/// </summary>
public sealed class FileTreeIndexGuardTests : IDisposable
{
    private readonly TestHost _host = new();
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-guard-").FullName;

    public void Dispose()
    {
        _host.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task FileListedButNotInTheArchive_FailsRestoreAndDeepVerify()
    {
        var backup = await BackupAsync(archived: ["r/a.txt"], indexed: ["r/a.txt", "r/b.txt"]);

        var target = Path.Combine(_work, "restored");
        var error = await Assert.ThrowsAnyAsync<Exception>(() => Restorer.RestoreAsync(backup.BackupId, target).AsTask());
        Assert.Contains("'r/b.txt'", Messages(error), StringComparison.Ordinal);
        Assert.Contains("missing from the archive", Messages(error), StringComparison.Ordinal);
        Assert.False(Directory.Exists(target));

        var verification = await Restorer.VerifyDeepAsync(backup.BackupId);
        Assert.IsType<BackupFormatException>(verification.Failure);
        Assert.Contains("'r/b.txt'", verification.Failure!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ArchiveOutOfIndexOrder_IsRefused()
    {
        var backup = await BackupAsync(archived: ["r/b.txt", "r/a.txt"], indexed: ["r/b.txt"]);

        var target = Path.Combine(_work, "restored");
        var error = await Assert.ThrowsAnyAsync<Exception>(() => Restorer.RestoreAsync(backup.BackupId, target).AsTask());
        Assert.Contains("not in index order", Messages(error), StringComparison.Ordinal);
        Assert.False(Directory.Exists(target));
        Assert.False((await Restorer.VerifyDeepAsync(backup.BackupId)).IsValid);
    }

    [Fact]
    public async Task WellFormedHandMadeBackup_Restores()
    {
        // The control: the same construction, consistent, restores and verifies (so the failures above are the guards').
        var backup = await BackupAsync(archived: ["r/a.txt", "r/b.txt"], indexed: ["r/a.txt", "r/b.txt"]);

        var target = Path.Combine(_work, "restored");
        await Restorer.RestoreAsync(backup.BackupId, target);
        Assert.Equal("content of r/b.txt", await File.ReadAllTextAsync(Path.Combine(target, "r", "b.txt")));
        Assert.True((await Restorer.VerifyDeepAsync(backup.BackupId)).IsValid);
    }

    [Fact]
    public async Task NamesThatSortBelowTheSeparator_MergeWithTheParentIndex()
    {
        // "a b", "a-b" and "a.txt" sort between "a" and "a/…" in plain ordinal order but after the folder's contents in
        // the walk: an unchanged re-run must still find every file in its parent's index.
        var source = Path.Combine(_work, "r");
        Directory.CreateDirectory(Path.Combine(source, "a", "x"));
        foreach (var name in new[] { "a/x/1", "a/2", "a b", "a-b", "a.txt", "ab", "a/x.y" })
        {
            await File.WriteAllTextAsync(Path.Combine(source, name), name);
        }

        var options = new FileTreeSourceOptions();
        options.Paths.Add(source);
        var full = await _host.Backups.RunAsync(BackupSources.FromFileTree(options));
        var incremental = await _host.Backups.RunAsync(BackupSources.FromFileTree(options), new BackupRequest { Type = BackupType.Incremental, ParentId = full.BackupId });

        Assert.Equal("7", incremental.Manifest.Properties["files.unchanged"]);
        var target = Path.Combine(_work, "restored");
        await Restorer.RestoreAsync(incremental.BackupId, target);
        Assert.Equal(TreeSnapshot.Take(source), TreeSnapshot.Take(Path.Combine(target, "r")));
    }

    private IFileTreeRestoreRunner Restorer => _host.Services.GetRequiredService<IFileTreeRestoreRunner>();

    private static string Messages(Exception error)
    {
        var messages = new List<string>();
        for (var e = error; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
        }

        return string.Join(" | ", messages);
    }

    /// <summary>A hand-made file backup: a tar with the given files and an index listing the given paths in order.</summary>
    private async Task<BackupResult> BackupAsync(string[] archived, string[] indexed) =>
        await _host.Backups.RunAsync(BackupSources.Create("files", "hand-made", async (destination, context, ct) =>
        {
            var writer = new TarWriter(destination, TarEntryFormat.Pax, leaveOpen: true);
            await using (writer)
            {
                await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, "r/"), ct);
                foreach (var path in archived)
                {
                    var entry = new PaxTarEntry(TarEntryType.RegularFile, path) { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes("content of " + path)) };
                    await writer.WriteEntryAsync(entry, ct);
                }
            }

            var index = new FileIndex.Writer(await context.OpenObjectAsync(FileIndex.ObjectName, ct));
            await index.WriteAsync(new FileIndexEntry { Path = "r", Type = FileIndexEntry.Directory, Mode = 0x1ED }, ct);
            foreach (var path in indexed)
            {
                var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("content of " + path)));
                await index.WriteAsync(new FileIndexEntry { Path = path, Type = FileIndexEntry.File, Mode = 0x1A4, Sha256 = hash, Holder = context.BackupId }, ct);
            }

            await index.FlushAsync(ct);
            await index.DisposeAsync();
        }));
}
