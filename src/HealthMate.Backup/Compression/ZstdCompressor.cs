using System.Collections.Concurrent;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace HealthMate.Backup.Compression;

/// <summary>Zstandard through ZstdSharp. Each block is a complete frame with its content size, and an XXH64 checksum if asked.</summary>
internal sealed class ZstdCompressor : ICompressor
{
    internal const int DefaultLevel = 1;

    private readonly ConcurrentBag<Compressor> _compressors = [];
    private readonly ConcurrentBag<Decompressor> _decompressors = [];

    private readonly bool _frameChecksums;

    internal ZstdCompressor(int level, bool frameChecksums = false)
    {
        _frameChecksums = frameChecksums;
        if (level < Compressor.MinCompressionLevel || level > Compressor.MaxCompressionLevel || level == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, $"A zstd level is from {Compressor.MinCompressionLevel} to {Compressor.MaxCompressionLevel}, not 0.");
        }

        Level = level;
    }

    public string Name => "zstd";

    public int Level { get; }

    public bool SupportsIndependentBlocks => true;

    public int GetMaxCompressedLength(int length) => Compressor.GetCompressBound(length);

    public int CompressBlock(ReadOnlySpan<byte> source, Memory<byte> destination)
    {
        if (!_compressors.TryTake(out var compressor))
        {
            compressor = new Compressor(Level);
            compressor.SetParameter(ZSTD_cParameter.ZSTD_c_checksumFlag, _frameChecksums ? 1 : 0);
        }

        try
        {
            return compressor.Wrap(source, destination.Span);
        }
        finally
        {
            _compressors.Add(compressor);
        }
    }

    /// <summary>Decompresses one frame whose content size is known (the restore fast path).</summary>
    internal int DecompressFrame(ReadOnlySpan<byte> frame, Span<byte> destination)
    {
        if (!_decompressors.TryTake(out var decompressor))
        {
            decompressor = new Decompressor();
        }

        try
        {
            return decompressor.Unwrap(frame, destination);
        }
        catch (ZstdException ex)
        {
            throw new BackupFormatException($"A zstd frame could not be decoded: {ex.Message}", ex);
        }
        finally
        {
            _decompressors.Add(decompressor);
        }
    }

    public Stream CreateCompressionStream(Stream destination)
    {
        var stream = new CompressionStream(destination, Level, leaveOpen: true);
        stream.SetParameter(ZSTD_cParameter.ZSTD_c_checksumFlag, _frameChecksums ? 1 : 0);
        return stream;
    }

    public Stream CreateDecompressionStream(Stream source) =>
        new DecompressionStream(source, bufferSize: 128 * 1024, checkEndOfStream: true, leaveOpen: true);
}
