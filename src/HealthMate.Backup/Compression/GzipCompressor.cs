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

    // zlib-ng's level-1 "quick" strategy uses static Huffman codes, which can grow incompressible input by up to 1/8
    // (9-bit literals), beyond zlib's classic deflateBound; a quarter plus the header and trailer covers every level.
    public int GetMaxCompressedLength(int length) => checked(length + (length >> 2) + 1024);

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
