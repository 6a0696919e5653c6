namespace HealthMate.Backup.Encryption;

/// <summary>Decrypts and authenticates the segments of one object. <see cref="DecryptSegment"/> is thread-safe.</summary>
public interface IDecryptionSession : IDisposable
{
    /// <summary>Gets the key id the object was encrypted with.</summary>
    string KeyId { get; }

    /// <summary>Gets the plaintext size of every segment but the last.</summary>
    int PlaintextSegmentSize { get; }

    /// <summary>Gets how many bytes each encrypted segment is longer than its plaintext.</summary>
    int SegmentOverhead { get; }

    /// <summary>Decrypts one segment and checks its authenticity, position and finality.</summary>
    /// <param name="index">The zero-based position of the segment in the object.</param>
    /// <param name="isLast">Whether the segment is the last one stored.</param>
    /// <param name="ciphertext">The encrypted segment.</param>
    /// <param name="plaintext">Receives <c>ciphertext.Length - SegmentOverhead</c> bytes.</param>
    /// <exception cref="BackupTamperedException">The segment's bytes were changed.</exception>
    /// <exception cref="BackupSegmentOrderException">The segment is authentic but belongs at another position.</exception>
    /// <exception cref="BackupTruncatedException">The object ends before its final segment, or continues after it.</exception>
    void DecryptSegment(long index, bool isLast, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext);
}
