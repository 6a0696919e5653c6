using System.IO.Compression;

namespace HealthMate.Backup.Compression;

/// <summary>Brotli as a single stream: the format defines no concatenation, so it is compressed on one core.</summary>
internal sealed class BrotliCompressor : ICompressor
{
    internal const int DefaultLevel = 1;

    internal BrotliCompressor(int level)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(level);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(level, 11);
        Level = level;
    }

    public string Name => "brotli";

    public int Level { get; }

    public bool SupportsIndependentBlocks => false;

    public int GetMaxCompressedLength(int length) => BrotliEncoder.GetMaxCompressedLength(length);

    public int CompressBlock(ReadOnlySpan<byte> source, Memory<byte> destination) =>
        throw new NotSupportedException("Brotli streams cannot be concatenated; use CreateCompressionStream.");

    public Stream CreateCompressionStream(Stream destination) =>
        new BrotliStream(destination, new BrotliCompressionOptions { Quality = Level }, leaveOpen: true);

    public Stream CreateDecompressionStream(Stream source) => new BrotliStream(source, CompressionMode.Decompress, leaveOpen: true);
}
