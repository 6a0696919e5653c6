namespace HealthMate.Backup.Compression;

/// <summary>Stores data as it is.</summary>
internal sealed class NoCompressor : ICompressor
{
    internal static readonly NoCompressor Instance = new();

    public string Name => "none";

    public int Level => 0;

    public bool SupportsIndependentBlocks => true;

    public int GetMaxCompressedLength(int length) => length;

    public int CompressBlock(ReadOnlySpan<byte> source, Memory<byte> destination)
    {
        source.CopyTo(destination.Span);
        return source.Length;
    }

    public Stream CreateCompressionStream(Stream destination) => new NonClosingStream(destination);

    public Stream CreateDecompressionStream(Stream source) => new NonClosingStream(source);
}
