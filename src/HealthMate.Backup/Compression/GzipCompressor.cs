using System.IO.Compression;

namespace HealthMate.Backup.Compression;

/// <summary>gzip: each block is a complete member, so the concatenation is what <c>gzip -d</c> expects.</summary>
internal sealed class GzipCompressor : ICompressor
{
    internal const int DefaultLevel = 1;

    private readonly CompressionLevel _level;

    internal GzipCompressor(int level)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(level);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(level, 9);
        Level = level;
        _level = level switch
        {
            0 => CompressionLevel.NoCompression,
            <= 3 => CompressionLevel.Fastest,
            <= 7 => CompressionLevel.Optimal,
            _ => CompressionLevel.SmallestSize,
        };
    }

    public string Name => "gzip";

    public int Level { get; }

    public bool SupportsIndependentBlocks => true;

    // zlib's deflateBound plus the 18-byte gzip header and trailer, with room to spare.
    public int GetMaxCompressedLength(int length) => checked(length + (length >> 12) + (length >> 14) + (length >> 25) + 13 + 18 + 64);

    public int CompressBlock(ReadOnlySpan<byte> source, Memory<byte> destination)
    {
        using var output = new MemorySpanStream(destination);
        using (var gzip = new GZipStream(output, _level, leaveOpen: true))
        {
            gzip.Write(source);
        }

        return output.Written;
    }

    public Stream CreateCompressionStream(Stream destination) => new GZipStream(destination, _level, leaveOpen: true);

    public Stream CreateDecompressionStream(Stream source) => new GZipStream(source, CompressionMode.Decompress, leaveOpen: true);
}
