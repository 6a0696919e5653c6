using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using HealthMate.Backup.Encryption;

namespace HealthMate.Backup.Catalog;

/// <summary>
/// Writes and reads the authenticated manifest envelope (docs/format.md, "Manifest"):
/// <code>{"format":"healthmate-backup-manifest","version":1,"keyId":ID,"keyCheck":HEX16,"hmacSha256":HEX32,"manifest":BODY}</code>
/// where the HMAC-SHA256 covers the exact bytes of BODY, under <c>HKDF-SHA256(KEK, salt = empty, info = "HealthMate.Backup v1 manifest HMAC key")</c>.
/// </summary>
internal static class ManifestSerializer
{
    internal const string FormatName = "healthmate-backup-manifest";
    internal const int EnvelopeVersion = 1;
    private const int KeyCheckLength = 16;
    private const int MaxManifestLength = 1024 * 1024;

    /// <summary>The manifest envelope; other authenticated documents (verification records) use their own format name,
    /// body member and HMAC key, so one can never pass for another.</summary>
    internal static readonly EnvelopeKind Manifest = new(FormatName, "manifest", KeyDerivation.ManifestMacKeyInfo);

    internal static byte[] Serialize(BackupManifest manifest, BackupKeyRing keyRing) =>
        Seal(JsonSerializer.SerializeToUtf8Bytes(manifest, ManifestJsonContext.Default.BackupManifest), keyRing, Manifest);

    /// <summary>Wraps a JSON object body in an authenticated envelope under the active key.</summary>
    internal static byte[] Seal(byte[] body, BackupKeyRing keyRing, EnvelopeKind kind)
    {
        var keyId = keyRing.ActiveKeyId;
        var (mac, keyCheck) = Authenticate(keyRing.GetKey(keyId), body, kind);
        var prefix = Encoding.UTF8.GetBytes(
            $"{{\"format\":\"{kind.Format}\",\"version\":{EnvelopeVersion},\"keyId\":\"{keyId}\",\"keyCheck\":\"{Convert.ToHexStringLower(keyCheck)}\",\"hmacSha256\":\"{Convert.ToHexStringLower(mac)}\",\"{kind.Member}\":");
        var result = new byte[prefix.Length + body.Length + 1];
        prefix.CopyTo(result, 0);
        body.CopyTo(result, prefix.Length);
        result[^1] = (byte)'}';
        return result;
    }

    /// <summary>Checks the envelope and HMAC, then parses the body and checks it belongs where it is stored.</summary>
    internal static BackupManifest Deserialize(ReadOnlySpan<byte> file, BackupKeyRing keyRing, string storageKey, string expectedKind, string expectedBackupId)
    {
        var manifest = ReadAuthenticated(file, keyRing, storageKey);
        if (!string.Equals(manifest.BackupId, expectedBackupId, StringComparison.Ordinal) || !string.Equals(manifest.Kind, expectedKind, StringComparison.Ordinal))
        {
            throw new ManifestAuthenticationException(storageKey, $"it describes backup {manifest.Kind}/{manifest.BackupId} but is stored as {expectedKind}/{expectedBackupId}");
        }

        return manifest;
    }

    /// <summary>Reads the manifest of an object stored under a name of its own (a WAL segment): it must describe that
    /// name's data, at <c>{name}.{backup-id}</c> with the manifest's own backup id (format 2) or at the name itself (format 1).</summary>
    internal static BackupManifest DeserializeKeyed(ReadOnlySpan<byte> file, BackupKeyRing keyRing, string storageKey, string expectedKind, string relativeName)
    {
        var manifest = ReadAuthenticated(file, keyRing, storageKey);
        var dataKey = manifest.FormatVersion >= 2 ? $"{relativeName}.{manifest.BackupId}" : relativeName;
        if (!string.Equals(manifest.Kind, expectedKind, StringComparison.Ordinal) || !string.Equals(manifest.Data.Key, dataKey, StringComparison.Ordinal))
        {
            throw new ManifestAuthenticationException(storageKey, $"it describes {manifest.Kind} object '{manifest.Data.Key}' but is stored for {expectedKind} object '{relativeName}'");
        }

        return manifest;
    }

    private static BackupManifest ReadAuthenticated(ReadOnlySpan<byte> file, BackupKeyRing keyRing, string storageKey)
    {
        var body = Open(file, keyRing, storageKey, Manifest);
        BackupManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(body, ManifestJsonContext.Default.BackupManifest)
                ?? throw new BackupFormatException($"Manifest '{storageKey}' has an empty body.");
        }
        catch (JsonException ex)
        {
            throw new BackupFormatException($"Manifest '{storageKey}' is authentic but its body cannot be read by this version: {ex.Message}", ex);
        }

        if (manifest.FormatVersion is < 1 or > BackupManifest.CurrentFormatVersion)
        {
            throw new BackupFormatException($"Manifest '{storageKey}' has format version {manifest.FormatVersion}; this library reads versions 1 to {BackupManifest.CurrentFormatVersion}.");
        }

        return manifest;
    }

    /// <summary>Checks an envelope's form, key and HMAC, and returns its authentic body.</summary>
    internal static ReadOnlySpan<byte> Open(ReadOnlySpan<byte> file, BackupKeyRing keyRing, string storageKey, EnvelopeKind kind)
    {
        if (file.Length > MaxManifestLength)
        {
            throw new ManifestAuthenticationException(storageKey, $"it is larger than {MaxManifestLength} bytes");
        }

        var envelope = ParseEnvelope(file, storageKey, kind);
        if (envelope.Version != EnvelopeVersion)
        {
            throw new BackupFormatException($"Manifest '{storageKey}' has envelope version {envelope.Version}; this library reads version {EnvelopeVersion}.");
        }

        var body = file[envelope.BodyStart..envelope.BodyEnd];
        if (!keyRing.Contains(envelope.KeyId))
        {
            // A damaged key id must not pass for a missing key: if a key we hold authenticates the body, the id was altered.
            foreach (var candidate in keyRing.KeyIds)
            {
                if (CryptographicOperations.FixedTimeEquals(Authenticate(keyRing.GetKey(candidate), body, kind).Mac, envelope.Mac))
                {
                    throw new ManifestAuthenticationException(storageKey, "its key id field was altered");
                }
            }

            throw new BackupKeyNotFoundException(envelope.KeyId);
        }

        var (mac, keyCheck) = Authenticate(keyRing.GetKey(envelope.KeyId), body, kind);
        var macMatches = CryptographicOperations.FixedTimeEquals(mac, envelope.Mac);
        if (!macMatches)
        {
            // With the right key the key check matches; if it does not, the configured key is the wrong one.
            throw CryptographicOperations.FixedTimeEquals(keyCheck, envelope.KeyCheck)
                ? new ManifestAuthenticationException(storageKey, "its HMAC does not match its content")
                : new WrongKeyException(envelope.KeyId, "manifest");
        }

        if (!CryptographicOperations.FixedTimeEquals(keyCheck, envelope.KeyCheck))
        {
            throw new ManifestAuthenticationException(storageKey, "its key check field was altered");
        }

        return body;
    }

    private static (byte[] Mac, byte[] KeyCheck) Authenticate(ReadOnlySpan<byte> kek, ReadOnlySpan<byte> body, EnvelopeKind kind)
    {
        Span<byte> macKey = stackalloc byte[32];
        var keyCheck = new byte[KeyCheckLength];
        try
        {
            KeyDerivation.Derive(kek, [], kind.MacKeyInfo, macKey);
            KeyDerivation.Derive(kek, [], KeyDerivation.ManifestKeyCheckInfo, keyCheck);
            return (HMACSHA256.HashData(macKey, body), keyCheck);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(macKey);
        }
    }

    private static Envelope ParseEnvelope(ReadOnlySpan<byte> file, string storageKey, EnvelopeKind kind)
    {
        try
        {
            var reader = new Utf8JsonReader(file, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            Expect(reader.Read() && reader.TokenType == JsonTokenType.StartObject);
            string? format = null, keyId = null;
            byte[]? keyCheck = null, mac = null;
            int? version = null;
            int bodyStart = -1, bodyEnd = -1;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                Expect(reader.Read());
                switch (name)
                {
                    case "format" when format is null:
                        format = reader.GetString();
                        break;
                    case "version" when version is null:
                        version = reader.GetInt32();
                        break;
                    case "keyId" when keyId is null:
                        keyId = reader.GetString();
                        break;
                    case "keyCheck" when keyCheck is null:
                        keyCheck = Convert.FromHexString(reader.GetString()!);
                        break;
                    case "hmacSha256" when mac is null:
                        mac = Convert.FromHexString(reader.GetString()!);
                        break;
                    case var member when member == kind.Member && bodyStart < 0:
                        Expect(reader.TokenType == JsonTokenType.StartObject);
                        bodyStart = (int)reader.TokenStartIndex;
                        reader.Skip();
                        bodyEnd = (int)reader.BytesConsumed;
                        break;
                    default:
                        throw new FormatException($"unexpected or repeated member '{name}'");
                }
            }

            Expect(reader.TokenType == JsonTokenType.EndObject && !reader.Read());
            Expect(format == kind.Format && version is not null && BackupKeyRing.IsValidKeyId(keyId) && keyCheck?.Length == KeyCheckLength && mac?.Length == 32 && bodyStart >= 0);
            return new Envelope(version!.Value, keyId!, keyCheck!, mac!, bodyStart, bodyEnd);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            throw new ManifestAuthenticationException(storageKey, $"it is not a well-formed manifest envelope ({ex.Message})");
        }
    }

    private static void Expect(bool condition)
    {
        if (!condition)
        {
            throw new FormatException("unexpected structure");
        }
    }

    private readonly record struct Envelope(int Version, string KeyId, byte[] KeyCheck, byte[] Mac, int BodyStart, int BodyEnd);
}

/// <summary>One kind of authenticated document: its format name, the member holding its body, and its HMAC key's HKDF info.</summary>
internal sealed record EnvelopeKind(string Format, string Member, byte[] MacKeyInfo);
