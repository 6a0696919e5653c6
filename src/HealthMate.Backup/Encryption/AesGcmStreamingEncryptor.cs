using System.Buffers;
using System.Security.Cryptography;

namespace HealthMate.Backup.Encryption;

/// <summary>
/// AES-256-GCM streaming AEAD in the design of Tink's AES-GCM-HKDF streaming: a fresh per-object key derived with
/// HKDF-SHA256 from the key-encryption key and a random salt, fixed-size segments, and the nonce
/// <c>prefix[7] ‖ counter u32be ‖ last-flag u8</c>. Every segment authenticates the whole header and (format 2) the
/// object's associated data, its backup id and name (<see cref="ObjectBinding"/>), so an object only decrypts as itself.
/// </summary>
internal sealed class AesGcmStreamingEncryptor : IEncryptor
{
    private readonly BackupKeyRing _keyRing;
    private readonly int _segmentSize;

    internal AesGcmStreamingEncryptor(BackupKeyRing keyRing, int segmentSize)
    {
        ArgumentNullException.ThrowIfNull(keyRing);
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentSize, StreamingAeadConstants.MinSegmentSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(segmentSize, StreamingAeadConstants.MaxSegmentSize);
        _keyRing = keyRing;
        _segmentSize = segmentSize;
    }

    public string Algorithm => StreamingAeadConstants.AlgorithmName;

    public int MaxHeaderLength => EncryptedObjectHeader.MaxLength;

    public IEncryptionSession BeginEncryption(ReadOnlySpan<byte> associatedData)
    {
        var keyId = _keyRing.ActiveKeyId;
        var kek = _keyRing.GetKey(keyId);
        Span<byte> salt = stackalloc byte[EncryptedObjectHeader.SaltLength];
        Span<byte> noncePrefix = stackalloc byte[EncryptedObjectHeader.NoncePrefixLength];
        Span<byte> keyCheck = stackalloc byte[EncryptedObjectHeader.KeyCheckLength];
        RandomNumberGenerator.Fill(salt);
        RandomNumberGenerator.Fill(noncePrefix);
        KeyDerivation.Derive(kek, salt, KeyDerivation.ObjectKeyCheckInfo, keyCheck);
        var header = EncryptedObjectHeader.Create(keyId, _segmentSize, salt, noncePrefix, keyCheck);
        return new Session(header, kek, associatedData);
    }

    public bool TryBeginDecryption(ReadOnlySequence<byte> data, ReadOnlySpan<byte> associatedData, out IDecryptionSession? session, out int headerLength)
    {
        var header = EncryptedObjectHeader.TryParse(data, StreamingAeadConstants.MinSegmentSize, StreamingAeadConstants.MaxSegmentSize);
        if (header is null)
        {
            session = null;
            headerLength = 0;
            return false;
        }

        var kek = _keyRing.GetKey(header.KeyId);
        Span<byte> keyCheck = stackalloc byte[EncryptedObjectHeader.KeyCheckLength];
        KeyDerivation.Derive(kek, header.Salt, KeyDerivation.ObjectKeyCheckInfo, keyCheck);
        if (!CryptographicOperations.FixedTimeEquals(keyCheck, header.KeyCheck))
        {
            throw new WrongKeyException(header.KeyId, "encrypted object");
        }

        session = new Session(header, kek, associatedData);
        headerLength = header.Bytes.Length;
        return true;
    }

    /// <summary>The per-object salt of a session this encryptor began (hex), for the manifest; null for other sessions.</summary>
    internal static string? SaltHex(IEncryptionSession session) => session is Session s ? Convert.ToHexStringLower(s.Salt) : null;

    /// <summary>What the header of an object being decrypted says: its format version and salt (hex); null for other sessions.</summary>
    internal static (byte FormatVersion, string SaltHex)? HeaderOf(IDecryptionSession session) =>
        session is Session s ? (s.FormatVersion, Convert.ToHexStringLower(s.Salt)) : null;

    /// <summary>Creates the encryptor for a fixed salt and nonce prefix; only for the format's test vectors.</summary>
    internal static IEncryptionSession BeginEncryptionForTestVector(BackupKeyRing keyRing, int segmentSize, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> noncePrefix, ReadOnlySpan<byte> associatedData, byte version = EncryptedObjectHeader.Version)
    {
        var kek = keyRing.GetKey(keyRing.ActiveKeyId);
        Span<byte> keyCheck = stackalloc byte[EncryptedObjectHeader.KeyCheckLength];
        KeyDerivation.Derive(kek, salt, KeyDerivation.ObjectKeyCheckInfo, keyCheck);
        var header = EncryptedObjectHeader.Create(keyRing.ActiveKeyId, segmentSize, salt, noncePrefix, keyCheck, version);
        return new Session(header, kek, associatedData);
    }

    /// <summary>One object's key, header and nonce prefix; segment operations are thread-safe.</summary>
    private sealed class Session : IEncryptionSession, IDecryptionSession
    {
        private readonly EncryptedObjectHeader _header;
        private readonly byte[] _key = new byte[32];
        private readonly ConcurrentAesGcmPool _ciphers;

        /// <summary>What every segment authenticates: the header, then (format 2) the object's associated data.</summary>
        private readonly byte[] _associatedData;

        internal Session(EncryptedObjectHeader header, ReadOnlySpan<byte> kek, ReadOnlySpan<byte> associatedData)
        {
            _header = header;
            _associatedData = header.FormatVersion >= 2 ? [.. header.Bytes, .. associatedData] : header.Bytes;
            KeyDerivation.Derive(kek, header.Salt, KeyDerivation.SegmentKeyInfo, _key);
            _ciphers = new ConcurrentAesGcmPool(_key);
        }

        public string KeyId => _header.KeyId;

        internal ReadOnlySpan<byte> Salt => _header.Salt;

        internal byte FormatVersion => _header.FormatVersion;

        public ReadOnlyMemory<byte> Header => _header.Bytes;

        public int PlaintextSegmentSize => _header.SegmentSize;

        public int SegmentOverhead => StreamingAeadConstants.TagLength;

        public void EncryptSegment(long index, bool isLast, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
        {
            CheckSegment(index, plaintext.Length, isLast);
            if (ciphertext.Length != plaintext.Length + StreamingAeadConstants.TagLength)
            {
                throw new ArgumentException("The ciphertext buffer must be exactly the plaintext length plus the tag length.", nameof(ciphertext));
            }

            Span<byte> nonce = stackalloc byte[StreamingAeadConstants.NonceLength];
            WriteNonce(nonce, index, isLast);
            var aes = _ciphers.Rent();
            try
            {
                aes.Encrypt(nonce, plaintext, ciphertext[..plaintext.Length], ciphertext[plaintext.Length..], _associatedData);
            }
            finally
            {
                _ciphers.Return(aes);
            }
        }

        public void DecryptSegment(long index, bool isLast, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
        {
            if (ciphertext.Length < StreamingAeadConstants.TagLength)
            {
                throw new BackupTruncatedException($"Encrypted segment {index} is {ciphertext.Length} bytes, shorter than its {StreamingAeadConstants.TagLength}-byte tag: the object was cut short.");
            }

            var length = ciphertext.Length - StreamingAeadConstants.TagLength;
            if (length > PlaintextSegmentSize || (!isLast && length != PlaintextSegmentSize))
            {
                throw new BackupFormatException($"Encrypted segment {index} has {length} bytes of data; segments hold {PlaintextSegmentSize}.");
            }

            if (index > uint.MaxValue)
            {
                throw new BackupFormatException($"Segment index {index} exceeds the format's limit of 2^32 segments.");
            }

            var aes = _ciphers.Rent();
            try
            {
                if (TryDecrypt(aes, index, isLast, ciphertext, plaintext[..length]))
                {
                    return;
                }

                throw Diagnose(aes, index, isLast, ciphertext, plaintext[..length]);
            }
            finally
            {
                _ciphers.Return(aes);
            }
        }

        public void Dispose()
        {
            _ciphers.Dispose();
            CryptographicOperations.ZeroMemory(_key);
        }

        private bool TryDecrypt(AesGcm aes, long index, bool isLast, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
        {
            Span<byte> nonce = stackalloc byte[StreamingAeadConstants.NonceLength];
            WriteNonce(nonce, index, isLast);
            var length = ciphertext.Length - StreamingAeadConstants.TagLength;
            try
            {
                aes.Decrypt(nonce, ciphertext[..length], ciphertext[length..], plaintext, _associatedData);
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
                return false;
            }
        }

        /// <summary>Only on the failure path: tells truncation and reordering apart from tampering.</summary>
        private BackupIntegrityException Diagnose(AesGcm aes, long index, bool isLast, ReadOnlySpan<byte> ciphertext, Span<byte> scratch)
        {
            try
            {
                if (TryDecrypt(aes, index, !isLast, ciphertext, scratch))
                {
                    return isLast
                        ? new BackupTruncatedException($"The encrypted object ends after segment {index}, which was not written as the final segment: the object was cut short.")
                        : new BackupTruncatedException($"The encrypted object continues after segment {index}, which was written as its final segment: data was appended.");
                }

                var from = Math.Max(0, index - StreamingAeadConstants.ReorderSearchWindow);
                var to = Math.Min(uint.MaxValue, index + StreamingAeadConstants.ReorderSearchWindow);
                for (var candidate = from; candidate <= to; candidate++)
                {
                    if (candidate != index && (TryDecrypt(aes, candidate, isLast, ciphertext, scratch) || TryDecrypt(aes, candidate, !isLast, ciphertext, scratch)))
                    {
                        return new BackupSegmentOrderException(index, candidate);
                    }
                }

                return new BackupTamperedException(index, KeyId);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(scratch);
            }
        }

        private void CheckSegment(long index, int length, bool isLast)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(index, (long)uint.MaxValue);
            if (length > PlaintextSegmentSize || (!isLast && length != PlaintextSegmentSize))
            {
                throw new ArgumentException($"Every segment but the last holds exactly {PlaintextSegmentSize} bytes; segment {index} has {length}.", nameof(length));
            }
        }

        private void WriteNonce(Span<byte> nonce, long index, bool isLast)
        {
            _header.NoncePrefix.CopyTo(nonce);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(nonce[EncryptedObjectHeader.NoncePrefixLength..], (uint)index);
            nonce[^1] = isLast ? (byte)1 : (byte)0;
        }
    }
}
