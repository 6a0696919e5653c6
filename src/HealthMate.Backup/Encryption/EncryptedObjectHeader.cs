using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace HealthMate.Backup.Encryption;

/// <summary>
/// The header of an encrypted object (docs/format.md, "Encrypted object"):
/// <code>
/// magic "HMBE" | version u8 | algorithm u8 | segment size u32be | key id length u8 | key id |
/// salt[32] | nonce prefix[7] | key check[16] | header check[8] = SHA-256(all previous header bytes)[0..8]
/// </code>
/// Version 2 (written) authenticates the object's associated data (its backup id and name) with every segment;
/// version 1 (still read) authenticated the header alone.
/// </summary>
internal sealed class EncryptedObjectHeader
{
    internal const int MagicLength = 4;
    internal const byte Version = 2;
    internal const byte FirstVersion = 1;
    internal const byte AlgorithmAes256GcmHkdfSha256 = 1;
    internal const int SaltLength = 32;
    internal const int NoncePrefixLength = 7;
    internal const int KeyCheckLength = 16;
    internal const int HeaderCheckLength = 8;
    internal const int MaxKeyIdLength = 64;
    internal const int FixedLength = MagicLength + 1 + 1 + 4 + 1 + SaltLength + NoncePrefixLength + KeyCheckLength + HeaderCheckLength;
    internal const int MaxLength = FixedLength + MaxKeyIdLength;

    internal static ReadOnlySpan<byte> Magic => "HMBE"u8;

    private EncryptedObjectHeader(byte[] bytes, string keyId, int segmentSize, int saltOffset)
    {
        Bytes = bytes;
        FormatVersion = bytes[4];
        KeyId = keyId;
        SegmentSize = segmentSize;
        SaltOffset = saltOffset;
    }

    internal byte[] Bytes { get; }

    /// <summary>Gets the header's format version: 1 (header-only associated data) or 2.</summary>
    internal byte FormatVersion { get; }

    internal string KeyId { get; }

    internal int SegmentSize { get; }

    private int SaltOffset { get; }

    internal ReadOnlySpan<byte> Salt => Bytes.AsSpan(SaltOffset, SaltLength);

    internal ReadOnlySpan<byte> NoncePrefix => Bytes.AsSpan(SaltOffset + SaltLength, NoncePrefixLength);

    internal ReadOnlySpan<byte> KeyCheck => Bytes.AsSpan(SaltOffset + SaltLength + NoncePrefixLength, KeyCheckLength);

    internal static EncryptedObjectHeader Create(string keyId, int segmentSize, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> noncePrefix, ReadOnlySpan<byte> keyCheck, byte version = Version)
    {
        var id = Encoding.ASCII.GetBytes(keyId);
        var bytes = new byte[FixedLength + id.Length];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        span[4] = version;
        span[5] = AlgorithmAes256GcmHkdfSha256;
        BinaryPrimitives.WriteUInt32BigEndian(span[6..], (uint)segmentSize);
        span[10] = (byte)id.Length;
        id.CopyTo(span[11..]);
        var saltOffset = 11 + id.Length;
        salt.CopyTo(span[saltOffset..]);
        noncePrefix.CopyTo(span[(saltOffset + SaltLength)..]);
        keyCheck.CopyTo(span[(saltOffset + SaltLength + NoncePrefixLength)..]);
        var checkOffset = bytes.Length - HeaderCheckLength;
        WriteHeaderCheck(span[..checkOffset], span[checkOffset..]);
        return new EncryptedObjectHeader(bytes, keyId, segmentSize, saltOffset);
    }

    /// <summary>Parses a header from the start of <paramref name="data"/>; returns null when more bytes are needed.</summary>
    internal static EncryptedObjectHeader? TryParse(ReadOnlySequence<byte> data, int minSegmentSize, int maxSegmentSize)
    {
        if (data.Length < 11)
        {
            if (data.IsEmpty || StartsLikeHeader(data))
            {
                return null;
            }

            throw new BackupFormatException("The object is not an encrypted HealthMate.Backup object: its magic bytes are wrong.");
        }

        Span<byte> prefix = stackalloc byte[11];
        data.Slice(0, 11).CopyTo(prefix);
        if (!prefix[..MagicLength].SequenceEqual(Magic))
        {
            throw new BackupFormatException("The object is not an encrypted HealthMate.Backup object: its magic bytes are wrong.");
        }

        if (prefix[4] is < FirstVersion or > Version)
        {
            throw new BackupFormatException($"The encrypted object has format version {prefix[4]}; this library reads versions {FirstVersion} to {Version}.");
        }

        if (prefix[5] != AlgorithmAes256GcmHkdfSha256)
        {
            throw new BackupFormatException($"The encrypted object uses algorithm {prefix[5]}, which this library does not know.");
        }

        var idLength = prefix[10];
        if (idLength is 0 or > MaxKeyIdLength)
        {
            throw new BackupFormatException($"The encrypted object's header is damaged: key id length {idLength} is outside 1..{MaxKeyIdLength}.");
        }

        var length = FixedLength + idLength;
        if (data.Length < length)
        {
            return null;
        }

        var bytes = data.Slice(0, length).ToArray();
        Span<byte> check = stackalloc byte[HeaderCheckLength];
        WriteHeaderCheck(bytes.AsSpan(0, length - HeaderCheckLength), check);
        if (!CryptographicOperations.FixedTimeEquals(check, bytes.AsSpan(length - HeaderCheckLength)))
        {
            throw new BackupFormatException("The encrypted object's header is damaged: its header check does not match.");
        }

        var segmentSize = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(6));
        if (segmentSize < (uint)minSegmentSize || segmentSize > (uint)maxSegmentSize)
        {
            throw new BackupFormatException($"The encrypted object's segment size {segmentSize} is outside {minSegmentSize}..{maxSegmentSize}.");
        }

        var keyIdBytes = bytes.AsSpan(11, idLength);
        foreach (var b in keyIdBytes)
        {
            if (b > 0x7F)
            {
                throw new BackupFormatException("The encrypted object's header is damaged: its key id is not ASCII.");
            }
        }

        var keyId = Encoding.ASCII.GetString(keyIdBytes);
        if (!BackupKeyRing.IsValidKeyId(keyId))
        {
            throw new BackupFormatException("The encrypted object's header is damaged: its key id has characters a key id cannot have.");
        }

        return new EncryptedObjectHeader(bytes, keyId, (int)segmentSize, 11 + idLength);
    }

    private static bool StartsLikeHeader(ReadOnlySequence<byte> data)
    {
        Span<byte> start = stackalloc byte[(int)Math.Min(data.Length, MagicLength)];
        data.Slice(0, start.Length).CopyTo(start);
        return Magic[..start.Length].SequenceEqual(start);
    }

    private static void WriteHeaderCheck(ReadOnlySpan<byte> headerWithoutCheck, Span<byte> destination)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(headerWithoutCheck, hash);
        hash[..HeaderCheckLength].CopyTo(destination);
    }
}
