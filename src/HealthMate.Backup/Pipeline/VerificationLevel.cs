namespace HealthMate.Backup;

/// <summary>How thoroughly a backup is verified.</summary>
public enum VerificationLevel
{
    /// <summary>Recompute the SHA-256 and size of the stored object and compare them with the manifest. Reads the object once; needs no decryption.</summary>
    Checksum = 0,

    /// <summary>Also decrypt, authenticate and decompress everything and compare the plaintext SHA-256 and size: a restore to nowhere.</summary>
    Full = 1,
}
