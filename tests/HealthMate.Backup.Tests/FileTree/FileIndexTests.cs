using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HealthMate.Backup.FileTree;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.FileTree;

/// <summary>The streamed index: its order is the walk's, it round-trips, and a damaged or reordered index is refused.</summary>
public sealed class FileIndexTests
{
    /// <summary>Segments over characters that sort below, at and above '/' (space, '-', '.', digits, letters, non-ASCII).</summary>
    private static Gen<string> Segment => Gen.Elements(' ', '-', '.', '0', '9', 'A', '_', 'a', 'z', 'é', '日').ArrayOf().Where(a => a.Length is > 0 and < 5).Select(a => new string(a));

    private static Gen<string> PathGen => Segment.ArrayOf().Where(a => a.Length is > 0 and < 5).Select(a => string.Join('/', a));

    [Property(MaxTest = 500)]
    public Property Order_IsSegmentBySegmentOrdinal() => Prop.ForAll(PathGen.ToArbitrary(), PathGen.ToArbitrary(), (x, y) =>
    {
        var expected = SegmentWise(x.Split('/'), y.Split('/'));
        return Math.Sign(FileIndex.Compare(x, y)) == expected && Math.Sign(FileIndex.Compare(y, x)) == -expected;
    });

    [Fact]
    public void Order_IsTheWalkOrder_NotPlainOrdinal()
    {
        // A depth-first walk by ordinal name visits a folder's contents before a sibling whose name extends the folder's.
        string[] walk = ["r", "r/a", "r/a/x", "r/a b", "r/a-b", "r/a.txt", "r/ab"];
        Assert.Equal(walk, walk.Reverse().Order(FileIndex.PathOrder));
        Assert.NotEqual(walk, walk.Order(StringComparer.Ordinal));
    }

    [Property(MaxTest = 100)]
    public Property WriterThenReader_RoundTrips() => Prop.ForAll(PathGen.ArrayOf().ToArbitrary(), paths =>
    {
        var entries = paths.Distinct(StringComparer.Ordinal).Order(FileIndex.PathOrder).Select((p, i) => new FileIndexEntry
        {
            Path = p,
            Type = i % 2 == 0 ? FileIndexEntry.File : FileIndexEntry.Directory,
            Size = i * 1000L,
            Mtime = 638_000_000_000_000_000L + i,
            Mode = 0x1A4,
            Sha256 = i % 2 == 0 ? new string('a', 64) : null,
            Holder = i % 2 == 0 ? "20261126T000000000Z-00000001" : null,
            Target = i % 3 == 0 ? "../" + p : null,
        }).ToList();
        var read = Sync.Run(async () =>
        {
            var buffer = new MemoryStream();
            var writer = new FileIndex.Writer(buffer);
            foreach (var entry in entries)
            {
                await writer.WriteAsync(entry, CancellationToken.None);
            }

            await writer.FlushAsync(CancellationToken.None);
            await writer.DisposeAsync();
            return await ReadAllAsync(buffer.ToArray()); // ToArray works on a closed MemoryStream
        });
        return read.SequenceEqual(entries);
    });

    [Theory]
    [InlineData("{\"path\":\"r/b\",\"type\":\"file\"}\n{\"path\":\"r/a\",\"type\":\"file\"}\n", "out of order")]
    [InlineData("{\"path\":\"r/a\",\"type\":\"file\"}\n{\"path\":\"r/a\",\"type\":\"dir\"}\n", "out of order")]
    [InlineData("{\"path\":\"r/a.txt\",\"type\":\"file\"}\n{\"path\":\"r/a/b\",\"type\":\"file\"}\n", "out of order")]
    [InlineData("{\"path\":\"r/a\",\"type\":\"file\"}\n{\"path\":\"r/b\",\"type\":\n", "cannot be read")]
    [InlineData("{\"type\":\"file\"}\n", "cannot be read")]
    [InlineData("[1,2]\n", "cannot be read")]
    public async Task Reader_RefusesADamagedOrReorderedIndex(string content, string expected)
    {
        var error = await Assert.ThrowsAsync<BackupFormatException>(() => ReadAllAsync(Encoding.UTF8.GetBytes(content)));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reader_RefusesALineLongerThanAnyEntry()
    {
        var content = Encoding.UTF8.GetBytes("{\"path\":\"" + new string('x', 2 * 1024 * 1024));
        var error = await Assert.ThrowsAsync<BackupFormatException>(() => ReadAllAsync(content));
        Assert.Contains("longer than", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writer_RefusesEntriesOutOfOrder()
    {
        var writer = new FileIndex.Writer(new MemoryStream());
        await writer.WriteAsync(new FileIndexEntry { Path = "r/a.txt", Type = FileIndexEntry.File }, CancellationToken.None);
        await Assert.ThrowsAsync<InvalidOperationException>(() => writer.WriteAsync(new FileIndexEntry { Path = "r/a/b", Type = FileIndexEntry.File }, CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task Cursor_FindsPathsInOrder_ReportsWhatItPasses_AndRefusesGoingBack()
    {
        var content = string.Concat(new[] { "r", "r/a", "r/a/x", "r/a.txt", "r/b" }.Select(p => $"{{\"path\":\"{p}\",\"type\":\"file\"}}\n"));
        var passed = new List<string>();
        var cursor = new FileIndex.Cursor(new FileIndex.Reader(new MemoryStream(Encoding.UTF8.GetBytes(content))), e => passed.Add(e.Path));
        await using (cursor)
        {
            Assert.Equal("r/a", (await cursor.SeekAsync("r/a", CancellationToken.None))?.Path);
            Assert.Equal("r/a", (await cursor.SeekAsync("r/a", CancellationToken.None))?.Path);
            Assert.Null(await cursor.SeekAsync("r/a/w", CancellationToken.None));
            Assert.Equal("r/a.txt", (await cursor.SeekAsync("r/a.txt", CancellationToken.None))?.Path);
            Assert.Equal(["r", "r/a", "r/a/x"], passed);
            await Assert.ThrowsAsync<BackupFormatException>(() => cursor.SeekAsync("r/a/z", CancellationToken.None).AsTask());
            await cursor.FinishAsync(CancellationToken.None);
            Assert.Equal(["r", "r/a", "r/a/x", "r/a.txt", "r/b"], passed);
        }
    }

    private static async Task<List<FileIndexEntry>> ReadAllAsync(byte[] content)
    {
        var result = new List<FileIndexEntry>();
        var reader = new FileIndex.Reader(new MemoryStream(content));
        await using (reader)
        {
            while (await reader.ReadAsync(CancellationToken.None) is { } entry)
            {
                result.Add(entry);
            }
        }

        return result;
    }

    private static int SegmentWise(string[] x, string[] y)
    {
        for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
        {
            var c = string.CompareOrdinal(x[i], y[i]);
            if (c != 0)
            {
                return Math.Sign(c);
            }
        }

        return x.Length.CompareTo(y.Length);
    }
}
