using System.Diagnostics;
using HealthMate.Backup.FileTree;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.FileTree;

/// <summary>A tar stream written by GNU tar goes through the whole pipeline and comes back as the same tree.</summary>
public sealed class DirectoryRestoreTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-dirrestore-").FullName;
    private readonly TestHost _host = new();

    public void Dispose()
    {
        _host.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task GnuTarStream_BackedUpAndRestored_IsTheSameTree()
    {
        var source = MakeTree(Path.Combine(_work, "source"));
        var backup = await _host.Backups.RunAsync(GnuTarSource(source));
        var target = Path.Combine(_work, "restored");

        await _host.Restores.RestoreAsync(backup.BackupId, RestoreTargets.ToDirectory(target));

        Assert.Equal(TreeSnapshot.Take(source), TreeSnapshot.Take(target));
    }

    [Fact]
    public async Task DamagedBackup_LeavesNoTargetAndNoStaging()
    {
        var source = MakeTree(Path.Combine(_work, "source"));
        var backup = await _host.Backups.RunAsync(GnuTarSource(source));
        var data = _host.PathOf(backup.Manifest.Data.Key);
        var bytes = await File.ReadAllBytesAsync(data);
        bytes[^5] ^= 1;
        await File.WriteAllBytesAsync(data, bytes);
        var parent = Path.Combine(_work, "out");
        Directory.CreateDirectory(parent);

        await Assert.ThrowsAnyAsync<BackupIntegrityException>(() => _host.Restores.RestoreAsync(backup.BackupId, RestoreTargets.ToDirectory(Path.Combine(parent, "restored"))).AsTask());

        Assert.Empty(Directory.GetFileSystemEntries(parent));
    }

    private static string MakeTree(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "uploads", "2026"));
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        File.WriteAllText(Path.Combine(root, "uploads", "2026", "scan.pdf"), new string('p', 300_000));
        File.WriteAllText(Path.Combine(root, "uploads", new string('ñ', 70) + ".txt"), "long unicode name");
        File.WriteAllBytes(Path.Combine(root, "embeddings.bin"), Payloads.Create(2_000_000, 3, 0));
        File.WriteAllText(Path.Combine(root, "run.sh"), "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(root, "run.sh"), (UnixFileMode)0b111_101_101);
        File.CreateSymbolicLink(Path.Combine(root, "latest"), "uploads/2026/scan.pdf");
        var old = new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(Path.Combine(root, "uploads", "2026", "scan.pdf"), old);
        Directory.SetLastWriteTimeUtc(Path.Combine(root, "empty"), old);
        return root;
    }

    private static IBackupSource GnuTarSource(string root) => BackupSources.Create("files", "gnu tar", async (destination, _, cancellationToken) =>
    {
        var start = new ProcessStartInfo("tar") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--format=posix", "-cf", "-", "-C", root, "." })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        await process.StandardOutput.BaseStream.CopyToAsync(destination, cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        Assert.Equal(0, process.ExitCode);
    });
}
