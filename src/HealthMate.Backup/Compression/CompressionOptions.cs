namespace HealthMate.Backup.Compression;

/// <summary>Compression of backup data.</summary>
public sealed class CompressionOptions
{
    /// <summary>The default block size: 1 MiB.</summary>
    public const int DefaultBlockSize = 1024 * 1024;

    /// <summary>The smallest block size: 64 KiB.</summary>
    public const int MinBlockSize = 64 * 1024;

    /// <summary>The largest block size: 16 MiB.</summary>
    public const int MaxBlockSize = 16 * 1024 * 1024;

    /// <summary>Gets or sets a value indicating whether data is compressed. <see langword="false"/> is the same as <see cref="CompressionAlgorithm.None"/>.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the format.</summary>
    /// <value>The default value is <see cref="CompressionAlgorithm.Zstd"/>.</value>
    public CompressionAlgorithm Algorithm { get; set; } = CompressionAlgorithm.Zstd;

    /// <summary>Gets or sets the level in the format's scale (zstd 1..19 (22 ultra) or negative for fast modes, gzip 0..9 mapped to
    /// fastest/optimal/smallest, brotli 0..11), or <see langword="null"/> for the format's fast default.</summary>
    /// <value>The default value is <see langword="null"/>: zstd 1, gzip 1 (fastest), brotli 1.</value>
    public int? Level { get; set; }

    /// <summary>Gets or sets the size of the independent blocks compressed in parallel, from 64 KiB to 16 MiB.</summary>
    /// <value>The default value is 1 MiB.</value>
    public int BlockSize { get; set; } = DefaultBlockSize;

    /// <summary>Gets or sets a value indicating whether each zstd frame carries its XXH64 content checksum.</summary>
    /// <value>The default value is <see langword="false"/>. Every stored object is already covered by the SHA-256 of its
    /// stored bytes and of its plaintext (and, when encrypted, by AES-GCM), which restore and verify check; the frame
    /// checksum only helps someone who decodes an unencrypted object with the stock <c>zstd -d</c> without first checking
    /// <c>sha256sum</c>, and costs about a fifth of level-1 compression time in the managed zstd.</value>
    public bool ZstdFrameChecksums { get; set; }

    /// <summary>Gets the algorithm in effect once <see cref="Enabled"/> is applied.</summary>
    internal CompressionAlgorithm EffectiveAlgorithm => Enabled ? Algorithm : CompressionAlgorithm.None;
}
