using System.Text.Json;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Encryption;

namespace HealthMate.Backup.Leases;

/// <summary>
/// Writes and reads storage lease records. With a keyring a record is sealed in the authenticated envelope of the other
/// small records (docs/format.md: format <c>healthmate-backup-lease</c>, body in member <c>lease</c>, its own HMAC key)
/// and carries its lease's name and its own sequence, so that it can neither be forged nor copied to another place.
/// Without a keyring records are plain JSON, as before, and only their form is checked. A record that does not check
/// out is never a grant: reading it returns why instead of throwing.
/// </summary>
internal sealed class LeaseRecordCodec(BackupKeyRing? keyRing)
{
    /// <summary>The most a lease record may hold; a larger object is not one.</summary>
    internal const int MaxRecordSize = 64 * 1024;

    private const long MinDurationMs = 1_000;
    private const long MaxDurationMs = 86_400_000;
    private static readonly EnvelopeKind Envelope = new("healthmate-backup-lease", "lease", KeyDerivation.LeaseRecordMacKeyInfo);

    internal byte[] Encode(LeaseRecord record) =>
        keyRing is null ? record.ToJson() : ManifestSerializer.Seal(record.ToJson(), keyRing, Envelope);

    /// <summary>Reads the bytes stored at <paramref name="key"/> as record <paramref name="sequence"/> of lease <paramref name="name"/>.</summary>
    internal LeaseReading Decode(string name, long sequence, string key, byte[] bytes)
    {
        if (bytes.Length > MaxRecordSize)
        {
            return LeaseReading.Invalid($"it is larger than {MaxRecordSize} bytes");
        }

        ReadOnlySpan<byte> body = bytes;
        if (keyRing is not null)
        {
            try
            {
                body = ManifestSerializer.Open(bytes, keyRing, key, Envelope);
            }
            catch (BackupKeyNotFoundException)
            {
                return LeaseReading.Invalid("it is sealed under a key id this host's keyring does not have");
            }
            catch (WrongKeyException)
            {
                return LeaseReading.Invalid("this host's key of its key id is not the key it was sealed with");
            }
            catch (BackupException)
            {
                return LeaseReading.Invalid("it is not a sealed lease record or its HMAC does not match its content");
            }
        }

        LeaseRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(body, LeaseJsonContext.Default.LeaseRecord);
        }
        catch (JsonException)
        {
            return LeaseReading.Invalid("it is not a lease record");
        }

        if (record is not { HolderId.Length: > 0, Holder: not null, Token: > 0 } || record.ExpiresAt == default || record.Token > sequence)
        {
            return LeaseReading.Invalid("it is not a lease record");
        }

        if (record.DurationMs is < MinDurationMs or > MaxDurationMs)
        {
            return LeaseReading.Invalid($"its duration of {record.DurationMs} ms is out of range");
        }

        // Sealed records always say where they belong; plain ones written before this check may not.
        if ((keyRing is not null || record.Name is not null) && (record.Name != name || record.Sequence != sequence))
        {
            return LeaseReading.Invalid($"it was written as record {record.Sequence} of lease '{record.Name}' and copied here");
        }

        return new LeaseReading(record, null);
    }
}
