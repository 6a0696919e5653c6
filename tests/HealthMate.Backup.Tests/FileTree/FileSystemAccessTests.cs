using System.Runtime.InteropServices;
using HealthMate.Backup.FileTree;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.FileTree;

/// <summary>How the walk lists folders and opens files: types from the listing, no link followed, no FIFO waited on.</summary>
public sealed partial class FileSystemAccessTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("hmb-fs-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Listing_GivesEveryEntryWithItsType_SortedByOrdinalName()
    {
        Directory.CreateDirectory(Path.Combine(_root, "b-dir"));
        File.WriteAllText(Path.Combine(_root, "a.txt"), "a");
        File.WriteAllText(Path.Combine(_root, "Z.txt"), "z");
        File.CreateSymbolicLink(Path.Combine(_root, "c-link"), "a.txt");
        Assert.Equal(0, MkFifo(Path.Combine(_root, "d-fifo"), 0x180));

        var listed = DirectoryListing.Read(_root);

        Assert.Equal(
            [("Z.txt", ListedType.File), ("a.txt", ListedType.File), ("b-dir", ListedType.Directory), ("c-link", ListedType.SymbolicLink), ("d-fifo", ListedType.Special)],
            listed.Select(e => (e.Name, e.Type)));
        Assert.All(listed, e => Assert.True(e.ValidName));
        Assert.Throws<DirectoryNotFoundException>(() => DirectoryListing.Read(Path.Combine(_root, "missing")));
    }

    [Fact]
    public async Task Open_NeverFollowsALink_NorWaitsOnAFifo_AndTakesTheStatusOfWhatItOpened()
    {
        var file = Path.Combine(_root, "file.txt");
        File.WriteAllText(file, "twelve bytes");
        File.CreateSymbolicLink(Path.Combine(_root, "link"), file);
        Assert.Equal(0, MkFifo(Path.Combine(_root, "fifo"), 0x180));

        // A path that became a link since it was listed is treated as gone, not followed.
        Assert.Null(OpenedFile.Open(Path.Combine(_root, "link"), out var linkFailure));
        Assert.Null(linkFailure);

        // A FIFO (nobody writing) would block a plain open forever; it is refused as not a regular file.
        Assert.Null(OpenedFile.Open(Path.Combine(_root, "fifo"), out var fifoFailure));
        Assert.IsType<NotSupportedException>(fifoFailure);
        Assert.Null(OpenedFile.Open(_root, out var folderFailure));
        Assert.IsType<NotSupportedException>(folderFailure);
        Assert.Null(OpenedFile.Open(Path.Combine(_root, "missing"), out var missingFailure));
        Assert.Null(missingFailure);

        var opened = OpenedFile.Open(file, out _);
        Assert.NotNull(opened);
        await using (opened)
        {
            Assert.Equal(12, opened.Length);
            Assert.True(opened.Status!.Value.IsRegularFile);
            Assert.False(opened.ChangedSinceOpen());
            using var reader = new StreamReader(opened.Stream, leaveOpen: true);
            Assert.Equal("twelve bytes", await reader.ReadToEndAsync());

            await File.AppendAllTextAsync(file, " and more");
            Assert.True(opened.ChangedSinceOpen());
        }
    }

    [Fact]
    public async Task Fifo_InATree_IsSkippedAsSpecial_AndTheBackupCompletes()
    {
        File.WriteAllText(Path.Combine(_root, "file.txt"), "x");
        Assert.Equal(0, MkFifo(Path.Combine(_root, "fifo"), 0x180));
        var events = new List<FileTreeEvent>();
        var options = new FileTreeSourceOptions { OnEvent = events.Add };
        options.Paths.Add(_root);
        using var host = new TestHost();

        var backup = await host.Backups.RunAsync(BackupSources.FromFileTree(options));

        Assert.Equal(FileTreeEventKind.SkippedSpecial, Assert.Single(events).Kind);
        Assert.Equal("1", backup.Manifest.Properties["files.skipped.special"]);
        Assert.Equal("1", backup.Manifest.Properties["files.count"]);
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, int mode);
}
