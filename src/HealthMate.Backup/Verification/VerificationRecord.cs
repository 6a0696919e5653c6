using System.Text.Json.Serialization;

namespace HealthMate.Backup.Verification;

/// <summary>
/// The stored result of one verification of a backup (a checksum verify, a full verify, a test restore): written next
/// to the backup as <c>backups/{kind}/{id}/verifications/{record-id}.json</c>, authenticated like a manifest, so "last
/// verified" and "last test restore, and how long it took" are known from storage alone.
/// </summary>
public sealed record VerificationRecord
{
    /// <summary>The record format this library writes.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Gets the record format version.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Gets the record's id: time-sortable, like a backup id.</summary>
    public required string RecordId { get; init; }

    /// <summary>Gets the verified backup's id.</summary>
    public required string BackupId { get; init; }

    /// <summary>Gets the verified backup's kind.</summary>
    public required string Kind { get; init; }

    /// <summary>Gets how it was verified: <c>checksum</c>, <c>full</c>, <c>deep</c> or <c>test-restore</c>.</summary>
    public required string Method { get; init; }

    /// <summary>Gets when the verification started.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>Gets when it ended.</summary>
    public required DateTimeOffset CompletedAt { get; init; }

    /// <summary>Gets how long it took, in seconds; for a test restore, the measured time to restore (RTO).</summary>
    public double DurationSeconds { get; init; }

    /// <summary>Gets whether the backup passed.</summary>
    public bool Succeeded { get; init; }

    /// <summary>Gets why it failed (the error's message, never a secret); null when it passed.</summary>
    public string? Failure { get; init; }

    /// <summary>Gets what the verification measured (tables, row counts, bytes).</summary>
    public IReadOnlyDictionary<string, string> Details { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(VerificationRecord))]
internal sealed partial class VerificationRecordJsonContext : JsonSerializerContext;
