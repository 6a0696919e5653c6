namespace HealthMate.Backup.Encryption;

/// <summary>Encrypts the segments of one object. <see cref="EncryptSegment"/> is thread-safe.</summary>
public interface IEncryptionSession : IDisposable
{
    /// <summary>Gets the key id the object is encrypted with.</summary>
    string KeyId { get; }

    /// <summary>Gets the object header, to be stored before the first segment.</summary>
    ReadOnlyMemory<byte> Header { get; }

    /// <summary>Gets the plaintext size of every segment but the last, which may be shorter (even empty).</summary>
    int PlaintextSegmentSize { get; }

    /// <summary>Gets how many bytes each segment grows by when encrypted.</summary>
    int SegmentOverhead { get; }

    /// <summary>Encrypts one segment.</summary>
    /// <param name="index">The zero-based segment index.</param>
    /// <param name="isLast">Whether this is the object's final segment.</param>
    /// <param name="plaintext">The segment's plaintext: exactly <see cref="PlaintextSegmentSize"/> bytes unless it is the last.</param>
    /// <param name="ciphertext">Receives <c>plaintext.Length + SegmentOverhead</c> bytes.</param>
    void EncryptSegment(long index, bool isLast, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext);
}
