using System.Buffers;

namespace HealthMate.Backup.Encryption;

/// <summary>
/// Streaming authenticated encryption: an object is a header followed by independently encrypted, fixed-size
/// segments, so segments can be encrypted and decrypted on all cores while reordering, truncation and tampering
/// are still detected.
/// </summary>
public interface IEncryptor
{
    /// <summary>Gets the algorithm's name as recorded in manifests, such as <c>AES-256-GCM-HKDF-SHA256</c>.</summary>
    string Algorithm { get; }

    /// <summary>Gets the largest header <see cref="TryBeginDecryption"/> may need to see.</summary>
    int MaxHeaderLength { get; }

    /// <summary>Starts encrypting a new object with the keyring's active key and a fresh per-object key.</summary>
    /// <param name="associatedData">What the object is (the pipeline passes its backup id and name): authenticated with
    /// every segment, not stored, so the object only decrypts where the same associated data is given.</param>
    /// <returns>The session; dispose it to erase its key.</returns>
    IEncryptionSession BeginEncryption(ReadOnlySpan<byte> associatedData);

    /// <summary>Parses an object header and starts decrypting with the key it names.</summary>
    /// <param name="data">The first bytes of the object: at least <see cref="MaxHeaderLength"/> of them, or all if the object is shorter.</param>
    /// <param name="associatedData">The associated data the object was encrypted with; a different one fails every segment.</param>
    /// <param name="session">The session, if the header was complete.</param>
    /// <param name="headerLength">The header's length in bytes, if it was complete.</param>
    /// <returns><see langword="false"/> if <paramref name="data"/> does not yet hold the whole header.</returns>
    /// <exception cref="BackupFormatException">The header is malformed or damaged.</exception>
    /// <exception cref="BackupKeyNotFoundException">The keyring lacks the header's key id.</exception>
    /// <exception cref="WrongKeyException">The keyring's key for that id is not the one the object was written with.</exception>
    bool TryBeginDecryption(ReadOnlySequence<byte> data, ReadOnlySpan<byte> associatedData, out IDecryptionSession? session, out int headerLength);
}
