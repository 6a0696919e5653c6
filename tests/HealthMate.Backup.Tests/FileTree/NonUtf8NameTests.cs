using System.Runtime.InteropServices;
using HealthMate.Backup.FileTree;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.FileTree;

/// <summary>
/// Linux allows file names that are not UTF-8; .NET lists them with U+FFFD and cannot open them. They must not vanish
/// silently: they are unreadable, reported with the reason, and fail the backup when OnUnreadable is Fail.
/// </summary>
public sealed partial class NonUtf8NameTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("hmb-nonutf8-").FullName;
    private readonly byte[] _badName;

    public NonUtf8NameTests()
    {
        File.WriteAllText(Path.Combine(_root, "good.txt"), "fine");
        _badName = System.Text.Encoding.UTF8.GetBytes(Path.Combine(_root, "bad")).Concat(new byte[] { 0xFF }).Concat("name.txt\0"u8.ToArray()).ToArray();
        var fd = Creat(_badName, 0x180);
        Assert.True(fd >= 0, "could not create a file with a non-UTF-8 name");
        _ = Close(fd);
    }

    public void Dispose()
    {
        // .NET cannot name the file to delete it either; unlink it by its bytes.
        _ = Unlink(_badName);
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Skip_ReportsTheFileAsUnreadableWithTheReason()
    {
        var events = new List<FileTreeEvent>();
        var options = new FileTreeSourceOptions { OnEvent = events.Add };
        options.Paths.Add(_root);
        using var host = new TestHost();

        var backup = await host.Backups.RunAsync(BackupSources.FromFileTree(options));

        var unreadable = Assert.Single(events);
        Assert.Equal(FileTreeEventKind.SkippedUnreadable, unreadable.Kind);
        Assert.Contains("not valid UTF-8", unreadable.Detail, StringComparison.Ordinal);
        Assert.Equal("1", backup.Manifest.Properties["files.skipped.unreadable"]);
        Assert.Equal("0", backup.Manifest.Properties["files.vanished"]);
        Assert.Equal("1", backup.Manifest.Properties["files.count"]);
    }

    [Fact]
    public async Task Fail_StopsTheBackup_AndCommitsNothing()
    {
        var options = new FileTreeSourceOptions { OnUnreadable = UnreadableFileHandling.Fail };
        options.Paths.Add(_root);
        using var host = new TestHost();

        var error = await Assert.ThrowsAsync<BackupStageException>(() => host.Backups.RunAsync(BackupSources.FromFileTree(options)).AsTask());

        Assert.Equal(PipelineStage.Source, error.Stage);
        Assert.Contains("UTF-8", error.Message, StringComparison.Ordinal);
        Assert.Empty(host.AllFiles());
    }

    [LibraryImport("libc", EntryPoint = "creat", SetLastError = true)]
    private static partial int Creat(byte[] path, int mode);

    [LibraryImport("libc", EntryPoint = "unlink")]
    private static partial int Unlink(byte[] path);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
