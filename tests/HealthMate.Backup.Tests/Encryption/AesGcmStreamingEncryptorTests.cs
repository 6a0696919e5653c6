using System.Buffers;
using FsCheck;
using FsCheck.Xunit;
using HealthMate.Backup.Encryption;

namespace HealthMate.Backup.Tests.Encryption;

/// <summary>The streaming AEAD on its own: segments, header, truncation, reordering and keys.</summary>
public sealed class AesGcmStreamingEncryptorTests : IDisposable
{
    private const int SegmentSize = 4096;
    private readonly BackupKeyRing _ring = new("k1", [new("k1", Enumerable.Range(0, 32).Select(i => (byte)i).ToArray())]);

    public void Dispose() => _ring.Dispose();

    [Property(MaxTest = 100)]
    public bool Segments_RoundTrip(NonNegativeInt length, int seed)
    {
        var plaintext = new byte[length.Get % (SegmentSize * 5)];
        new Random(seed).NextBytes(plaintext);
        var (header, segments) = Encrypt(plaintext);
        return Decrypt(header, segments).AsSpan().SequenceEqual(plaintext);
    }

    [Fact]
    public void DroppingTheFinalSegment_IsTruncation()
    {
        var (header, segments) = Encrypt(new byte[SegmentSize * 3 + 10]);

        var error = Assert.Throws<BackupTruncatedException>(() => Decrypt(header, segments[..^1]));
        Assert.Contains("ends after segment 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AppendingAfterTheFinalSegment_IsDetected()
    {
        var (header, segments) = Encrypt(new byte[SegmentSize * 2]);
        var (_, extra) = Encrypt(new byte[SegmentSize]);

        var error = Assert.Throws<BackupTruncatedException>(() => Decrypt(header, [.. segments, extra[0]]));
        Assert.Contains("continues after segment", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryHeaderByte_IsProtected()
    {
        using var session = new AesGcmStreamingEncryptor(_ring, SegmentSize).BeginEncryption([]);
        var header = session.Header.ToArray();
        for (var i = 0; i < header.Length; i++)
        {
            var damaged = (byte[])header.Clone();
            damaged[i] ^= 0x10;
            // Segments follow the header in an object, so a damaged length field cannot just ask for more bytes.
            var withSegments = damaged.Concat(new byte[200]).ToArray();
            var error = Record.Exception(() => new AesGcmStreamingEncryptor(_ring, SegmentSize).TryBeginDecryption(new ReadOnlySequence<byte>(withSegments), [], out _, out _));
            Assert.True(error is BackupFormatException, $"byte {i}: {error?.GetType().Name ?? "accepted"}");
        }
    }

    [Fact]
    public void IncompleteHeader_AsksForMoreBytes()
    {
        using var session = new AesGcmStreamingEncryptor(_ring, SegmentSize).BeginEncryption([]);
        for (var length = 0; length < session.Header.Length; length++)
        {
            Assert.False(new AesGcmStreamingEncryptor(_ring, SegmentSize).TryBeginDecryption(new ReadOnlySequence<byte>(session.Header[..length]), [], out _, out _));
        }
    }

    [Fact]
    public void UnknownKeyId_IsAMissingKey()
    {
        using var other = new BackupKeyRing("k9", [new("k9", new byte[32])]);
        using var session = new AesGcmStreamingEncryptor(other, SegmentSize).BeginEncryption([]);

        Assert.Equal("k9", Assert.Throws<BackupKeyNotFoundException>(() => Begin(session.Header.ToArray())).KeyId);
    }

    [Fact]
    public void EveryObject_GetsAFreshSaltNoncePrefixAndCiphertext()
    {
        var (h1, s1) = Encrypt(new byte[100]);
        var (h2, s2) = Encrypt(new byte[100]);

        Assert.NotEqual(h1, h2);
        Assert.NotEqual(s1[0], s2[0]);
    }

    [Fact]
    public void AnObject_DecryptsOnlyWithItsOwnAssociatedData()
    {
        // The pipeline passes the backup id and object name: an object moved under another backup or name fails at once.
        var bound = ObjectBinding.Of("20261201T000000000Z-00000001", "data");
        using var session = new AesGcmStreamingEncryptor(_ring, SegmentSize).BeginEncryption(bound);
        var segment = new byte[100 + 16];
        session.EncryptSegment(0, isLast: true, new byte[100], segment);
        var encryptor = new AesGcmStreamingEncryptor(_ring, SegmentSize);

        Assert.True(encryptor.TryBeginDecryption(new ReadOnlySequence<byte>(session.Header), bound, out var right, out _));
        right!.DecryptSegment(0, isLast: true, segment, new byte[100]);
        foreach (var other in new[] { ObjectBinding.Of("20261201T000000000Z-00000002", "data"), ObjectBinding.Of("20261201T000000000Z-00000001", "index"), [] })
        {
            Assert.True(encryptor.TryBeginDecryption(new ReadOnlySequence<byte>(session.Header), other, out var wrong, out _));
            Assert.Throws<BackupTamperedException>(() => wrong!.DecryptSegment(0, isLast: true, segment, new byte[100]));
        }
    }

    [Fact]
    public void FormatOneObjects_StillDecrypt_WithTheHeaderAloneAsAssociatedData()
    {
        var salt = new byte[32];
        using var session = AesGcmStreamingEncryptor.BeginEncryptionForTestVector(_ring, SegmentSize, salt, new byte[7], [], version: 1);
        var segment = new byte[10 + 16];
        session.EncryptSegment(0, isLast: true, "format one"u8, segment);
        var plaintext = new byte[10];

        Assert.True(new AesGcmStreamingEncryptor(_ring, SegmentSize).TryBeginDecryption(new ReadOnlySequence<byte>(session.Header), ObjectBinding.Of("20261201T000000000Z-00000001", "data"), out var reader, out _));
        reader!.DecryptSegment(0, isLast: true, segment, plaintext);

        Assert.Equal("format one"u8.ToArray(), plaintext);
    }

    [Fact]
    public void Header_HoldsNoKeyMaterial()
    {
        using var session = new AesGcmStreamingEncryptor(_ring, SegmentSize).BeginEncryption([]);
        var key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

        Assert.Equal(-1, session.Header.Span.IndexOf(key.AsSpan(0, 8)));
    }

    private IDecryptionSession Begin(byte[] header)
    {
        var encryptor = new AesGcmStreamingEncryptor(_ring, SegmentSize);
        Assert.True(encryptor.TryBeginDecryption(new ReadOnlySequence<byte>(header), [], out var session, out var length));
        Assert.Equal(header.Length, length);
        return session!;
    }

    private (byte[] Header, byte[][] Segments) Encrypt(byte[] plaintext)
    {
        using var session = new AesGcmStreamingEncryptor(_ring, SegmentSize).BeginEncryption([]);
        var segments = new List<byte[]>();
        var index = 0;
        var offset = 0;
        do
        {
            var length = Math.Min(SegmentSize, plaintext.Length - offset);
            var isLast = offset + length == plaintext.Length;
            var output = new byte[length + 16];
            session.EncryptSegment(index++, isLast, plaintext.AsSpan(offset, length), output);
            segments.Add(output);
            offset += length;
            if (isLast)
            {
                break;
            }
        }
        while (true);

        return (session.Header.ToArray(), segments.ToArray());
    }

    private byte[] Decrypt(byte[] header, byte[][] segments)
    {
        using var session = Begin(header);
        var output = new List<byte>();
        for (var i = 0; i < segments.Length; i++)
        {
            var plaintext = new byte[segments[i].Length - 16];
            session.DecryptSegment(i, i == segments.Length - 1, segments[i], plaintext);
            output.AddRange(plaintext);
        }

        return output.ToArray();
    }
}
