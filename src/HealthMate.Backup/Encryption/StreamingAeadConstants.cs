namespace HealthMate.Backup.Encryption;

/// <summary>Limits and defaults of the AES-256-GCM streaming AEAD.</summary>
internal static class StreamingAeadConstants
{
    internal const string AlgorithmName = "AES-256-GCM-HKDF-SHA256";
    internal const int TagLength = 16;
    internal const int NonceLength = 12;
    internal const int DefaultSegmentSize = 1024 * 1024;
    internal const int MinSegmentSize = 4 * 1024;
    internal const int MaxSegmentSize = 16 * 1024 * 1024;

    /// <summary>How far from its position a segment is looked for when it fails authentication, to tell reordering from tampering.</summary>
    internal const int ReorderSearchWindow = 64;
}
