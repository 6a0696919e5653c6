namespace HealthMate.Backup;

/// <summary>An encrypted segment failed authentication: its bytes were changed after they were written.</summary>
public sealed class BackupTamperedException : BackupIntegrityException
{
    /// <summary>Initializes a new instance of the <see cref="BackupTamperedException"/> class.</summary>
    /// <param name="segmentIndex">The zero-based index of the segment that failed.</param>
    /// <param name="keyId">The key id the object was encrypted with.</param>
    public BackupTamperedException(long segmentIndex, string keyId)
        : base($"Encrypted segment {segmentIndex} failed authentication with key '{keyId}': the stored bytes were modified or corrupted. Restore from another copy.")
    {
        SegmentIndex = segmentIndex;
        KeyId = keyId;
    }

    /// <summary>Gets the zero-based index of the segment that failed authentication.</summary>
    public long SegmentIndex { get; }

    /// <summary>Gets the key id the object was encrypted with.</summary>
    public string KeyId { get; }
}
