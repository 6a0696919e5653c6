using System.Text.Json;

namespace HealthMate.Backup.Leases;

/// <summary>
/// Writes and reads storage lease records (plain JSON). A record carries its lease's name and its own sequence; one
/// stored anywhere else, or one that is not a lease record at all, is never a grant: reading it returns why instead of
/// throwing.
/// </summary>
internal sealed class LeaseRecordCodec
{
    /// <summary>The most a lease record may hold; a larger object is not one.</summary>
    internal const int MaxRecordSize = 64 * 1024;

    private const long MinDurationMs = 1_000;
    private const long MaxDurationMs = 86_400_000;

    internal static byte[] Encode(LeaseRecord record) => record.ToJson();

    /// <summary>Reads the bytes stored at <paramref name="key"/> as record <paramref name="sequence"/> of lease <paramref name="name"/>.</summary>
    internal static LeaseReading Decode(string name, long sequence, string key, byte[] bytes)
    {
        if (bytes.Length > MaxRecordSize)
        {
            return LeaseReading.Invalid($"it is larger than {MaxRecordSize} bytes");
        }

        LeaseRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(bytes, LeaseJsonContext.Default.LeaseRecord);
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

        // Records written before this check may not say where they belong.
        if (record.Name is not null && (record.Name != name || record.Sequence != sequence))
        {
            return LeaseReading.Invalid($"it was written as record {record.Sequence} of lease '{record.Name}' and copied here");
        }

        return new LeaseReading(record, null);
    }
}
