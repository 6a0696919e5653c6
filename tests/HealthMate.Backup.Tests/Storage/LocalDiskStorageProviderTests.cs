using HealthMate.Backup.Storage;
using HealthMate.Backup.Storage.Local;

namespace HealthMate.Backup.Tests.Storage;

/// <summary>The conformance suite against local disk, plus what is particular to it.</summary>
public sealed class LocalDiskStorageProviderTests : StorageProviderConformanceTests, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("hmb-local-").FullName;
    private readonly LocalDiskStorageProvider _provider;

    public LocalDiskStorageProviderTests() => _provider = new LocalDiskStorageProvider(new LocalStorageOptions { Path = _root });

    protected override IStorageProvider Provider => _provider;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Write_LeavesOnlyATemporaryFileInsideTheRootUntilCommit()
    {
        await using (var writer = await Provider.OpenWriteAsync("x/y"))
        {
            await writer.WriteAsync(new byte[10]);
            var files = Directory.GetFiles(_root, "*", SearchOption.AllDirectories);
            Assert.All(files, f => Assert.StartsWith(".hmb-tmp-", Path.GetFileName(f), StringComparison.Ordinal));
        }

        Assert.Empty(Directory.GetFileSystemEntries(_root));
    }

    [Fact]
    public void MoveNoReplace_NeverReplacesAnExistingFile_AndMovesOtherwise()
    {
        var existing = Path.Combine(_root, "existing");
        var source = Path.Combine(_root, "source");
        File.WriteAllText(existing, "first");
        File.WriteAllText(source, "second");

        Assert.False(NativeMethods.MoveNoReplace(source, existing));
        Assert.Equal("first", File.ReadAllText(existing));
        Assert.True(File.Exists(source));

        var fresh = Path.Combine(_root, "fresh");
        Assert.True(NativeMethods.MoveNoReplace(source, fresh));
        Assert.Equal("second", File.ReadAllText(fresh));
        Assert.False(File.Exists(source));
    }

    [Fact]
    public async Task Delete_RemovesEmptyFoldersButNeverTheRoot()
    {
        await WriteAsync("backups/files/id/data", [1]);
        await Provider.DeleteAsync("backups/files/id/data");

        Assert.True(Directory.Exists(_root));
        Assert.Empty(Directory.GetFileSystemEntries(_root));
    }
}
