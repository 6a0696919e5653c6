using System.Diagnostics;
using HealthMate.Backup.FileTree;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.FileTree;

/// <summary>Exclusions, size limits and counts behave as documented; stock tar tools read what we write.</summary>
public sealed class FileTreeSourceTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-source-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task ExclusionsAndMaxSize_LeaveOutWhatTheyShould_AndAreCountedAndReported()
    {
        var root = Path.Combine(_work, "app");
        Write(root, "uploads/scan.pdf", 1000);
        Write(root, "uploads/upload.tmp", 10);
        Write(root, "logs/app.log", 10);
        Write(root, "src/__pycache__/m.pyc", 10);
        Write(root, ".git/HEAD", 10);
        Write(root, "data/cache/x.bin", 10);
        Write(root, "data/embeddings.bin", 5000);
        Write(root, "data/huge.bin", 200_000);
        var events = new List<FileTreeEvent>();
        var options = new FileTreeSourceOptions { MaxFileSize = 100_000, OnEvent = events.Add };
        options.Paths.Add(root);
        foreach (var pattern in new[] { "*.tmp", "*.log", "__pycache__", ".git", "**/cache/**" })
        {
            options.Exclude.Add(pattern);
        }

        using var host = new TestHost();
        var backup = await host.Backups.RunAsync(BackupSources.FromFileTree(options));
        var target = Path.Combine(_work, "restored");
        await host.Restores.RestoreAsync(backup.BackupId, RestoreTargets.ToDirectory(target));

        var restored = Directory.GetFiles(target, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(target, f)).Order(StringComparer.Ordinal);
        Assert.Equal(["app/data/embeddings.bin", "app/uploads/scan.pdf"], restored);
        var properties = backup.Manifest.Properties;
        Assert.Equal("2", properties["files.count"]);
        Assert.Equal("1", properties["files.skipped.too-large"]);
        Assert.Equal("5", properties["files.excluded"]);
        Assert.Equal([new FileTreeEvent("app/data/huge.bin", FileTreeEventKind.SkippedTooLarge, "200000 bytes, over the limit of 100000")], events);
        Assert.DoesNotContain(properties, p => p.Value.Contains("huge", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FilesAndFoldersThatVanishDuringTheWalk_AreSkippedAndReported_NeverFailTheBackup()
    {
        var root = Path.Combine(_work, "live");
        Write(root, "a-big.bin", 10_000);
        Write(root, "b.log", 10);
        Write(root, "c/d.txt", 10);
        Write(root, "e.txt", 10);
        var events = new List<FileTreeEvent>();
        var options = new FileTreeSourceOptions
        {
            MaxFileSize = 1000,
            OnUnreadable = UnreadableFileHandling.Fail,
            OnEvent = e =>
            {
                events.Add(e);
                if (e.Kind == FileTreeEventKind.SkippedTooLarge)
                {
                    // Entries are walked in name order: the later ones disappear after they were listed, as a rotated
                    // log or a deleted upload would.
                    File.Delete(Path.Combine(root, "b.log"));
                    Directory.Delete(Path.Combine(root, "c"), recursive: true);
                }
            },
        };
        options.Paths.Add(root);

        using var host = new TestHost();
        var backup = await host.Backups.RunAsync(BackupSources.FromFileTree(options));
        var target = Path.Combine(_work, "restored");
        await host.Restores.RestoreAsync(backup.BackupId, RestoreTargets.ToDirectory(target));

        Assert.Equal(["live/b.log", "live/c/"], events.Where(e => e.Kind == FileTreeEventKind.Vanished).Select(e => e.Path));
        Assert.Equal("2", backup.Manifest.Properties["files.vanished"]);
        Assert.Equal(["live/e.txt"], Directory.GetFiles(target, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(target, f)));
    }

    [Fact]
    public async Task Include_BacksUpOnlyMatchingFiles()
    {
        var root = Path.Combine(_work, "knowledge");
        Write(root, "a/guide.md", 10);
        Write(root, "a/b/notes.md", 10);
        Write(root, "a/image.png", 10);
        var options = new FileTreeSourceOptions();
        options.Paths.Add(root);
        options.Include.Add("*.md");

        using var host = new TestHost();
        var backup = await host.Backups.RunAsync(BackupSources.FromFileTree(options));
        var target = Path.Combine(_work, "restored");
        await host.Restores.RestoreAsync(backup.BackupId, RestoreTargets.ToDirectory(target));

        Assert.Equal(["knowledge/a/b/notes.md", "knowledge/a/guide.md"], Directory.GetFiles(target, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(target, f)).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("gnu")]
    [InlineData("bsd")]
    public async Task UnencryptedBackup_Decompressed_IsExtractedByStockTarIntoTheSameTree(string tool)
    {
        var root = Path.Combine(_work, "data");
        new FileTreeRoundTripTests.TreeSpec(Seed: 20261126, Entries: 40, Encrypted: false).Build(root);
        var options = new FileTreeSourceOptions();
        options.Paths.Add(root);
        using var host = new TestHost(o => o.Encryption.Enabled = false);
        var backup = await host.Backups.RunAsync(BackupSources.FromFileTree(options));
        var tar = Path.Combine(_work, "backup.tar");
        await File.WriteAllBytesAsync(tar, await StockTool.RunAsync("zstd", "-d", "-c", host.PathOf(backup.Manifest.Data.Key)));
        var target = Directory.CreateDirectory(Path.Combine(_work, "extracted")).FullName;

        await StockTool.RunAsync(tool == "gnu" ? "tar" : "bsdtar", "-xpf", tar, "-C", target);

        Assert.Equal(TreeSnapshot.Take(root), TreeSnapshot.Take(Path.Combine(target, "data")));
    }

    [Theory]
    [InlineData("*.tmp", "uploads/a.tmp", true)]
    [InlineData("*.tmp", "a.tmp.pdf", false)]
    [InlineData("__pycache__", "src/__pycache__/m.pyc", true)]
    [InlineData(".git", "repo/.git/objects/ab", true)]
    [InlineData(".git", "repo/.gitignore", false)]
    [InlineData("**/cache/**", "a/b/cache/c/d", true)]
    [InlineData("**/cache/**", "cache/x", true)]
    [InlineData("**/cache/**", "a/cached/x", false)]
    [InlineData("logs/*.log", "logs/app.log", true)]
    [InlineData("logs/*.log", "old/logs/app.log", false)]
    public void PathFilter_MatchesLikeGitignore(string pattern, string path, bool expected) =>
        Assert.Equal(expected, new PathFilter([pattern]).Matches(path));

    [Fact]
    public async Task FixedLengthStream_PadsAShrunkFile_AndNoticesAGrownOne()
    {
        var shrunk = new FixedLengthReadStream(new MemoryStream(new byte[5]), 8);
        var bytes = new byte[16];
        var total = 0;
        int read;
        while ((read = await shrunk.ReadAsync(bytes.AsMemory(total))) > 0)
        {
            total += read;
        }

        Assert.Equal(8, total);
        Assert.True(shrunk.SizeChanged);

        var grown = new FixedLengthReadStream(new MemoryStream(new byte[10]), 8);
        await grown.CopyToAsync(Stream.Null);
        Assert.False(grown.SizeChanged);
        Assert.True(grown.GrewBeyondLength());
    }

    private static void Write(string root, string relative, int size)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, new byte[size]);
    }
}
