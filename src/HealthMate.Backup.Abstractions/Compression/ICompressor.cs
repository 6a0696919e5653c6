namespace HealthMate.Backup.Compression;

/// <summary>A compression format. Implementations are thread-safe.</summary>
/// <remarks>
/// When <see cref="SupportsIndependentBlocks"/> is <see langword="true"/>, the pipeline compresses independent
/// blocks on all cores with <see cref="CompressBlock"/> and concatenates them; the concatenation must be a valid
/// stream of the format (zstd frames, gzip members) that the format's stock tool decodes.
/// </remarks>
public interface ICompressor
{
    /// <summary>Gets the format's name as recorded in manifests: <c>zstd</c>, <c>gzip</c>, <c>brotli</c> or <c>none</c>.</summary>
    string Name { get; }

    /// <summary>Gets the compression level in the format's own scale.</summary>
    int Level { get; }

    /// <summary>Gets a value indicating whether independently compressed blocks concatenate into a valid stream.</summary>
    bool SupportsIndependentBlocks { get; }

    /// <summary>Gets the largest output <see cref="CompressBlock"/> can produce for an input of <paramref name="length"/> bytes.</summary>
    /// <param name="length">The input length.</param>
    /// <returns>The bound.</returns>
    int GetMaxCompressedLength(int length);

    /// <summary>Compresses one block into a self-contained frame of the format.</summary>
    /// <param name="source">The block.</param>
    /// <param name="destination">The output, at least <see cref="GetMaxCompressedLength"/> bytes.</param>
    /// <returns>The number of bytes written to <paramref name="destination"/>.</returns>
    /// <exception cref="NotSupportedException"><see cref="SupportsIndependentBlocks"/> is <see langword="false"/>.</exception>
    int CompressBlock(ReadOnlySpan<byte> source, Memory<byte> destination);

    /// <summary>Creates a stream that compresses what is written to it into <paramref name="destination"/>.</summary>
    /// <param name="destination">Receives the compressed bytes.</param>
    /// <returns>The compressing stream; disposing it finishes the compressed stream and leaves <paramref name="destination"/> open.</returns>
    Stream CreateCompressionStream(Stream destination);

    /// <summary>Creates a stream that decompresses <paramref name="source"/>, including concatenated frames or members.</summary>
    /// <param name="source">The compressed bytes.</param>
    /// <returns>The decompressing stream; disposing it leaves <paramref name="source"/> open.</returns>
    Stream CreateDecompressionStream(Stream source);
}
