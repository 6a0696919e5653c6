using System.Formats.Tar;
using System.Text;
using HealthMate.Backup.FileTree;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.FileTree;

/// <summary>Restoring into a folder never writes outside it, never writes unverified data, and says what it refused.</summary>
public sealed class TarExtractorTests : IDisposable
{
    private readonly string _sandbox = Directory.CreateTempSubdirectory("hmb-extract-").FullName;

    private string Target => Path.Combine(_sandbox, "target");

    public void Dispose() => Directory.Delete(_sandbox, recursive: true);

    public static TheoryData<string, string> HostileArchives => new()
    {
        { "absolute", "the path is absolute" },
        { "dotdot", "'..'" },
        { "symlink-then-file", "through the symbolic link" },
        { "device", "device nodes" },
        { "hardlink-outside", "'..'" },
        { "hardlink-to-symlink", "not a regular file" },
        { "nul", "NUL" },
    };

    [Theory]
    [MemberData(nameof(HostileArchives))]
    public async Task HostileArchive_IsRefused_NamingTheEntry_AndNothingIsWritten(string kind, string reason)
    {
        var outside = Path.Combine(_sandbox, "outside");
        Directory.CreateDirectory(outside);
        var archive = Build(writer =>
        {
            writer.WriteEntry(File("ok.txt", "fine"));
            switch (kind)
            {
                case "absolute":
                    writer.WriteEntry(File(Path.Combine(outside, "evil.txt"), "x"));
                    break;
                case "dotdot":
                    writer.WriteEntry(File("a/../../outside/evil.txt", "x"));
                    break;
                case "symlink-then-file":
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "link") { LinkName = outside });
                    writer.WriteEntry(File("link/evil.txt", "x"));
                    break;
                case "device":
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.CharacterDevice, "null") { DeviceMajor = 1, DeviceMinor = 3 });
                    break;
                case "hardlink-outside":
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "passwd") { LinkName = "../../etc/passwd" });
                    break;
                case "hardlink-to-symlink":
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "link") { LinkName = "/etc/passwd" });
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "passwd") { LinkName = "link" });
                    break;
                case "nul":
                    writer.WriteEntry(File("bad\0name", "x"));
                    break;
            }
        });

        var error = await Assert.ThrowsAsync<DirectoryRestoreException>(() => Extract(archive));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.True(error.InnerException is UnsafeArchiveEntryException or BackupFormatException, error.InnerException?.GetType().Name);
        Assert.Empty(error.WrittenPaths);
        Assert.Empty(Directory.GetFileSystemEntries(outside));
        Assert.Equal([outside], Directory.GetFileSystemEntries(_sandbox));
    }

    [Fact]
    public async Task ValidArchive_RestoresTypesModesTimesAndLinks()
    {
        var mtime = new DateTimeOffset(2024, 2, 29, 12, 34, 56, TimeSpan.Zero);
        var archive = Build(writer =>
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "docs/") { Mode = (UnixFileMode)0b111_101_000, ModificationTime = mtime });
            var file = File("docs/" + new string('ü', 80) + ".txt", "contents");
            file.Mode = (UnixFileMode)0b110_100_000;
            file.ModificationTime = mtime;
            writer.WriteEntry(file);
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "empty/"));
            writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "docs/latest") { LinkName = new string('ü', 80) + ".txt" });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "copy.txt") { LinkName = "docs/" + new string('ü', 80) + ".txt" });
        });

        var result = await Extract(archive);

        var restored = Path.Combine(Target, "docs", new string('ü', 80) + ".txt");
        Assert.Equal("contents", await System.IO.File.ReadAllTextAsync(restored));
        Assert.Equal((UnixFileMode)0b110_100_000, System.IO.File.GetUnixFileMode(restored));
        Assert.Equal(mtime.UtcDateTime, System.IO.File.GetLastWriteTimeUtc(restored));
        Assert.Equal(mtime.UtcDateTime, Directory.GetLastWriteTimeUtc(Path.Combine(Target, "docs")));
        Assert.True(Directory.Exists(Path.Combine(Target, "empty")));
        Assert.Equal(new string('ü', 80) + ".txt", new FileInfo(Path.Combine(Target, "docs", "latest")).LinkTarget);
        Assert.Equal("contents", await System.IO.File.ReadAllTextAsync(Path.Combine(Target, "copy.txt")));
        Assert.Equal((1, 2, 1, 1), (result.Files, result.Directories, result.SymbolicLinks, result.HardLinks));
        Assert.Equal(["target"], Directory.GetFileSystemEntries(_sandbox).Select(Path.GetFileName));
    }

    [Fact]
    public async Task NonEmptyTarget_IsRefusedUnlessOverwriting_ThenMerged()
    {
        Directory.CreateDirectory(Target);
        await System.IO.File.WriteAllTextAsync(Path.Combine(Target, "keep.txt"), "mine");
        await System.IO.File.WriteAllTextAsync(Path.Combine(Target, "a.txt"), "old");
        var archive = Build(writer => writer.WriteEntry(File("a.txt", "new")));

        await Assert.ThrowsAsync<DirectoryRestoreException>(() => Extract(archive));
        Assert.Equal("old", await System.IO.File.ReadAllTextAsync(Path.Combine(Target, "a.txt")));

        await Extract(archive, new DirectoryRestoreOptions { Overwrite = true });

        Assert.Equal("new", await System.IO.File.ReadAllTextAsync(Path.Combine(Target, "a.txt")));
        Assert.Equal("mine", await System.IO.File.ReadAllTextAsync(Path.Combine(Target, "keep.txt")));
    }

    [Fact]
    public async Task Include_RestoresOnlyTheSubset()
    {
        var archive = Build(writer =>
        {
            writer.WriteEntry(File("uploads/a.pdf", "a"));
            writer.WriteEntry(File("uploads/b.tmp", "b"));
            writer.WriteEntry(File("logs/c.log", "c"));
        });

        await Extract(archive, new DirectoryRestoreOptions { Include = p => p.EndsWith(".pdf", StringComparison.Ordinal) });

        Assert.Equal(["uploads/a.pdf"], Directory.GetFiles(Target, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Target, f)));
    }

    [Fact]
    public async Task ArchiveCutShort_IsAnErrorNotAShortFile()
    {
        var archive = Build(writer => writer.WriteEntry(File("big.bin", new string('x', 100_000))));

        var error = await Assert.ThrowsAsync<DirectoryRestoreException>(() => Extract(archive[..20_000]));

        Assert.Contains("big.bin", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Target));
    }

    private static PaxTarEntry File(string name, string content) =>
        new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) };

    private static byte[] Build(Action<TarWriter> write)
    {
        using var output = new MemoryStream();
        using (var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        {
            write(writer);
        }

        return output.ToArray();
    }

    private async Task<DirectoryRestoreResult> Extract(byte[] archive, DirectoryRestoreOptions? options = null)
    {
        using var stream = new MemoryStream(archive);
        return await TarExtractor.ExtractAsync(stream, Target, options ?? new DirectoryRestoreOptions(), CancellationToken.None);
    }
}
