using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Encryption;

namespace HealthMate.Backup.Tests.Format;

/// <summary>
/// docs/format.md carries test vectors so the format can be implemented without the library. This test regenerates
/// every vector with the library and compares it with the document, and decrypts the documented object independently
/// (plain AesGcm and HKDF, following the document's description, not the library's code).
/// Run with HEALTHMATE_WRITE_VECTORS=1 to rewrite the vector blocks after a deliberate format change.
/// </summary>
public sealed class FormatVectorTests
{
    private static readonly byte[] Kek = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] Salt = Enumerable.Range(0x40, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] NoncePrefix = Enumerable.Range(0x60, 7).Select(i => (byte)i).ToArray();
    private static readonly byte[] Plaintext = "HealthMate.Backup format test vector\n"u8.ToArray();
    private const string KeyId = "vector-key";
    private const string BackupIdOfVectors = "20261126T020000000Z-00c0ffee";
    private const int SegmentSize = 4096;

    [Fact]
    public void Document_VectorsMatchTheLibrary()
    {
        var path = DocumentPath();
        var document = File.ReadAllText(path);
        var generated = Generate();
        if (Environment.GetEnvironmentVariable("HEALTHMATE_WRITE_VECTORS") == "1")
        {
            foreach (var (name, value) in generated)
            {
                document = VectorBlock(name).Replace(document, m => m.Groups["head"].Value + value + "\n```", 1);
            }

            File.WriteAllText(path, document);
        }

        foreach (var (name, value) in generated)
        {
            var match = VectorBlock(name).Match(document);
            Assert.True(match.Success, $"docs/format.md has no block for vector '{name}'");
            Assert.True(value == match.Groups["body"].Value.TrimEnd('\n'), $"vector '{name}' differs; the library now gives:\n{value}");
        }
    }

    [Theory]
    [InlineData("object-1", 2)]
    [InlineData("object-v1", 1)]
    public void Document_ObjectDecryptsFollowingTheDocumentAlone(string vector, int version)
    {
        var document = File.ReadAllText(DocumentPath());
        var hex = VectorBlock(vector).Match(document).Groups["body"].Value;
        var bytes = Convert.FromHexString(string.Concat(hex.Where(char.IsAsciiHexDigit)));

        // Header: magic, version, algorithm, segment size u32be, key id length, key id, salt[32], nonce prefix[7], key check[16], header check[8].
        Assert.Equal("HMBE"u8.ToArray(), bytes[..4]);
        Assert.Equal(version, bytes[4]);
        var idLength = bytes[10];
        var keyId = Encoding.ASCII.GetString(bytes, 11, idLength);
        var salt = bytes.AsSpan(11 + idLength, 32);
        var prefix = bytes.AsSpan(43 + idLength, 7);
        var headerLength = 74 + idLength;
        Assert.Equal(SHA256.HashData(bytes.AsSpan(0, headerLength - 8))[..8], bytes[(headerLength - 8)..headerLength]);

        // Associated data: the header; from version 2 followed by u8 length, backup id, u8 length, object name.
        var associated = bytes[..headerLength].ToList();
        if (version >= 2)
        {
            associated.Add((byte)BackupIdOfVectors.Length);
            associated.AddRange(Encoding.ASCII.GetBytes(BackupIdOfVectors));
            associated.Add((byte)"data".Length);
            associated.AddRange("data"u8.ToArray());
        }

        var segmentKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, Kek, 32, salt.ToArray(), "HealthMate.Backup v1 segment key"u8.ToArray());
        var nonce = new byte[12];
        prefix.CopyTo(nonce);
        nonce[11] = 1; // counter 0, last segment
        var segment = bytes.AsSpan(headerLength);
        var plaintext = new byte[segment.Length - 16];
        using var aes = new AesGcm(segmentKey, 16);
        aes.Decrypt(nonce, segment[..^16], segment[^16..], plaintext, associated.ToArray());

        Assert.Equal(KeyId, keyId);
        Assert.Equal(Plaintext, plaintext);
    }

    [Fact]
    public void Document_ManifestAuthenticatesFollowingTheDocumentAlone()
    {
        var document = File.ReadAllText(DocumentPath());
        var manifest = Encoding.UTF8.GetBytes(VectorBlock("manifest-1").Match(document).Groups["body"].Value.TrimEnd('\n'));
        var prefixEnd = IndexOf(manifest, "\"manifest\":"u8) + "\"manifest\":".Length;
        var body = manifest.AsSpan(prefixEnd, manifest.Length - prefixEnd - 1);
        var macKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, Kek, 32, [], "HealthMate.Backup v1 manifest HMAC key"u8.ToArray());

        var mac = Convert.ToHexStringLower(HMACSHA256.HashData(macKey, body));

        Assert.Contains($"\"hmacSha256\":\"{mac}\"", Encoding.UTF8.GetString(manifest), StringComparison.Ordinal);
    }

    internal static Dictionary<string, string> Generate()
    {
        using var ring = new BackupKeyRing(KeyId, [new(KeyId, Kek)]);
        var result = new Dictionary<string, string>();

        var derived = new byte[32];
        KeyDerivation.Derive(Kek, Salt, KeyDerivation.SegmentKeyInfo, derived);
        var keyCheck = new byte[16];
        KeyDerivation.Derive(Kek, Salt, KeyDerivation.ObjectKeyCheckInfo, keyCheck);
        result["object-1-keys"] = $"segment key = {Convert.ToHexStringLower(derived)}\nkey check   = {Convert.ToHexStringLower(keyCheck)}";

        var binding = ObjectBinding.Of(BackupIdOfVectors, "data");
        result["object-1-associated-data"] = Wrap(Convert.ToHexStringLower(binding));
        var object1 = EncryptObject(ring, Plaintext, binding, EncryptedObjectHeader.Version);
        result["object-1"] = Wrap(Convert.ToHexStringLower(object1));
        result["object-1-sha256"] = Convert.ToHexStringLower(SHA256.HashData(object1));

        var twoSegments = Enumerable.Range(0, SegmentSize + 100).Select(i => (byte)i).ToArray();
        var object2 = EncryptObject(ring, twoSegments, binding, EncryptedObjectHeader.Version);
        result["object-2"] = $"length = {object2.Length}\nsha256 = {Convert.ToHexStringLower(SHA256.HashData(object2))}";

        var manifest = new BackupManifest
        {
            BackupId = BackupIdOfVectors,
            Kind = "postgresql",
            Name = "healthmate",
            Type = BackupType.Full,
            StartedAt = new DateTimeOffset(2026, 11, 26, 2, 0, 0, TimeSpan.Zero),
            CompletedAt = new DateTimeOffset(2026, 11, 26, 2, 0, 5, TimeSpan.Zero),
            Properties = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["server.version"] = "15.18" },
            Pipeline = new ManifestPipeline
            {
                Compression = "none",
                CompressionLevel = 0,
                CompressionBlockSize = 1048576,
                Encryption = "AES-256-GCM-HKDF-SHA256",
                KeyId = KeyId,
                SegmentSize = SegmentSize,
                Salt = Convert.ToHexStringLower(Salt),
            },
            Data = new ManifestData
            {
                Key = "backups/postgresql/20261126T020000000Z-00c0ffee/data",
                StoredSize = object1.Length,
                StoredSha256 = Convert.ToHexStringLower(SHA256.HashData(object1)),
                PlaintextSize = Plaintext.Length,
                PlaintextSha256 = Convert.ToHexStringLower(SHA256.HashData(Plaintext)),
            },
        };
        result["manifest-1"] = Encoding.UTF8.GetString(ManifestSerializer.Serialize(manifest, ring));

        // Format 1, still read: the header alone is the associated data.
        result["object-v1"] = Wrap(Convert.ToHexStringLower(EncryptObject(ring, Plaintext, binding, EncryptedObjectHeader.FirstVersion)));
        var parsed = ManifestSerializer.Deserialize(ManifestSerializer.Serialize(manifest, ring), ring, "vector", manifest.Kind, manifest.BackupId);
        Assert.Equivalent(manifest, parsed, strict: true);
        return result;
    }

    private static byte[] EncryptObject(BackupKeyRing ring, byte[] plaintext, byte[] associatedData, byte version)
    {
        using var session = AesGcmStreamingEncryptor.BeginEncryptionForTestVector(ring, SegmentSize, Salt, NoncePrefix, associatedData, version);
        var output = new List<byte>(session.Header.ToArray());
        var index = 0;
        for (var offset = 0; ; offset += SegmentSize, index++)
        {
            var length = Math.Min(SegmentSize, plaintext.Length - offset);
            var isLast = offset + length == plaintext.Length;
            var segment = new byte[length + 16];
            session.EncryptSegment(index, isLast, plaintext.AsSpan(offset, length), segment);
            output.AddRange(segment);
            if (isLast)
            {
                break;
            }
        }

        var bytes = output.ToArray();
        var encryptor = new AesGcmStreamingEncryptor(ring, SegmentSize);
        Assert.True(encryptor.TryBeginDecryption(new ReadOnlySequence<byte>(bytes), associatedData, out var check, out var headerLength));
        using (check)
        {
            // The library itself reads the last segment back with the same associated data.
            var lastIndex = (bytes.Length - headerLength - 1) / (SegmentSize + 16);
            var last = bytes.AsSpan(headerLength + (lastIndex * (SegmentSize + 16)));
            check!.DecryptSegment(lastIndex, isLast: true, last, new byte[last.Length - 16]);
        }

        return bytes;
    }

    private static string Wrap(string hex) => string.Join('\n', hex.Chunk(64).Select(c => new string(c)));

    private static int IndexOf(byte[] haystack, ReadOnlySpan<byte> needle) => haystack.AsSpan().IndexOf(needle);

    private static Regex VectorBlock(string name) =>
        new($"(?<head><!-- vector: {Regex.Escape(name)} -->\\n```text\\n)(?<body>[^`]*)```");

    private static string DocumentPath()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "docs", "format.md");
            if (File.Exists(Path.Combine(directory.FullName, "HealthMate.Backup.sln")))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("docs/format.md not found above the test binaries.");
    }
}
