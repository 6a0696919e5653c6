using HealthMate.Backup.FileTree;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 13, defect 6: a tree restore was staged beside its target, so restoring into an empty mount point (a new
/// volume for the data, the usual case after a disk loss) wrote the whole tree onto the parent file system and then
/// failed with EBUSY trying to replace the mount point. It is now staged inside the target, on its own file system.
/// </summary>
public sealed class Regression_RestoreIntoMountPointTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-mount-").FullName;

    public void Dispose()
    {
        SmallFileSystem.UnmountAll(_work);
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task RestoreIntoAnEmptyMountPoint_LandsOnThatFileSystem_AndMatchesTheSource()
    {
        var source = Directory.CreateDirectory(Path.Combine(_work, "source", "data")).FullName;
        Directory.CreateDirectory(Path.Combine(source, "nested", "deeper"));
        await File.WriteAllBytesAsync(Path.Combine(source, "nested", "deeper", "big.bin"), Payloads.Create(3 * 1024 * 1024, seed: 1, style: 0));
        await File.WriteAllTextAsync(Path.Combine(source, "note.txt"), "restored onto its own volume");
        using var host = new TestHost();
        var backup = await host.Backups.RunAsync(BackupSources.FromFileTree(new FileTreeSourceOptions { Paths = { source } }));

        // The target is a fresh, empty volume mounted where the data lived.
        var target = SmallFileSystem.Mount(Path.Combine(_work, "volume"), megabytes: 32);
        var result = await host.Services.GetRequiredService<IFileTreeRestoreRunner>().RestoreAsync(backup.BackupId, target);

        Assert.Equal(2, result.Files);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(source, "nested", "deeper", "big.bin")), await File.ReadAllBytesAsync(Path.Combine(target, "data", "nested", "deeper", "big.bin")));
        Assert.Equal(["data"], Directory.GetFileSystemEntries(target).Select(Path.GetFileName));
        Assert.Equal(SmallFileSystem.DeviceOf(target), SmallFileSystem.DeviceOf(Path.Combine(target, "data", "note.txt")));
    }
}
