namespace HealthMate.Backup.Compression;

/// <summary>The compression formats the pipeline can write.</summary>
public enum CompressionAlgorithm
{
    /// <summary>Zstandard: concatenated frames, decodable by <c>zstd -d</c>. The default.</summary>
    Zstd = 0,

    /// <summary>gzip: concatenated members, decodable by <c>gzip -d</c>.</summary>
    Gzip = 1,

    /// <summary>Brotli: one stream, compressed on one core (the format has no standard concatenation).</summary>
    Brotli = 2,

    /// <summary>No compression.</summary>
    None = 3,
}
