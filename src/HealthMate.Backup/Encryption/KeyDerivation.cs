using System.Security.Cryptography;
using System.Text;

namespace HealthMate.Backup.Encryption;

/// <summary>The HKDF-SHA256 derivations of the storage format (see docs/format.md). Each purpose has its own info string.</summary>
internal static class KeyDerivation
{
    internal static readonly byte[] SegmentKeyInfo = Encoding.ASCII.GetBytes("HealthMate.Backup v1 segment key");
    internal static readonly byte[] ObjectKeyCheckInfo = Encoding.ASCII.GetBytes("HealthMate.Backup v1 key check");
    internal static readonly byte[] ManifestMacKeyInfo = Encoding.ASCII.GetBytes("HealthMate.Backup v1 manifest HMAC key");
    internal static readonly byte[] ManifestKeyCheckInfo = Encoding.ASCII.GetBytes("HealthMate.Backup v1 manifest key check");
    internal static readonly byte[] RecordMacKeyInfo = Encoding.ASCII.GetBytes("HealthMate.Backup v1 record HMAC key");
    internal static readonly byte[] JobRecordMacKeyInfo = Encoding.ASCII.GetBytes("HealthMate.Backup v1 job record HMAC key");
    internal static readonly byte[] DrRecordMacKeyInfo = Encoding.ASCII.GetBytes("HealthMate.Backup v1 DR record HMAC key");
    internal static readonly byte[] LeaseRecordMacKeyInfo = Encoding.ASCII.GetBytes("HealthMate.Backup v1 lease record HMAC key");

    internal static void Derive(ReadOnlySpan<byte> keyEncryptionKey, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> info, Span<byte> output) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, keyEncryptionKey, output, salt, info);
}
