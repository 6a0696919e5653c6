namespace HealthMate.Backup.Compression;

/// <summary>Creates compressors by algorithm (for writing) and by manifest name (for reading).</summary>
internal static class CompressorFactory
{
    internal static ICompressor Create(CompressionAlgorithm algorithm, int? level, bool zstdFrameChecksums = false) => algorithm switch
    {
        CompressionAlgorithm.Zstd => new ZstdCompressor(level ?? ZstdCompressor.DefaultLevel, zstdFrameChecksums),
        CompressionAlgorithm.Gzip => new GzipCompressor(level ?? GzipCompressor.DefaultLevel),
        CompressionAlgorithm.Brotli => new BrotliCompressor(level ?? BrotliCompressor.DefaultLevel),
        CompressionAlgorithm.None => NoCompressor.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown compression algorithm."),
    };

    internal static ICompressor ForReading(string name) => name switch
    {
        "zstd" => new ZstdCompressor(ZstdCompressor.DefaultLevel),
        "gzip" => new GzipCompressor(GzipCompressor.DefaultLevel),
        "brotli" => new BrotliCompressor(BrotliCompressor.DefaultLevel),
        "none" => NoCompressor.Instance,
        _ => throw new BackupFormatException($"The backup was compressed with '{name}', which this library does not know."),
    };

    /// <summary>Checks a level for an algorithm; returns an error message or null.</summary>
    internal static string? ValidateLevel(CompressionAlgorithm algorithm, int? level)
    {
        if (level is null)
        {
            return null;
        }

        try
        {
            _ = Create(algorithm, level);
            return null;
        }
        catch (ArgumentOutOfRangeException ex)
        {
            return $"Compression level {level} is not valid for {algorithm}: {ex.Message.Split(Environment.NewLine)[0]}";
        }
    }
}
