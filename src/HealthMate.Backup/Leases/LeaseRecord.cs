using System.Text.Json;
using System.Text.Json.Serialization;

namespace HealthMate.Backup.Leases;

/// <summary>One storage lease record: who holds the lease, under which token, for how long, and where it belongs.</summary>
/// <param name="HolderId">The grant's random id, the same in its renewals and its release.</param>
/// <param name="Holder">The holder's name, for operators.</param>
/// <param name="Token">The fencing token: the sequence of the grant.</param>
/// <param name="ExpiresAt">The writer's wall-clock time plus the duration: for display, and the expiry rule of records
/// written before <see cref="DurationMs"/> existed. Nothing else trusts it.</param>
internal sealed record LeaseRecord(string HolderId, string Holder, long Token, DateTimeOffset ExpiresAt)
{
    /// <summary>Gets how long the lease lasts after this record is written; <see langword="null"/> in older records.</summary>
    public long? DurationMs { get; init; }

    /// <summary>Gets whether the holder released the lease with this record (another host may take it at once).</summary>
    public bool Released { get; init; }

    /// <summary>Gets the lease's name, so that a record copied to another lease is refused; <see langword="null"/> in older records.</summary>
    public string? Name { get; init; }

    /// <summary>Gets the record's own sequence, so that a record copied to another sequence is refused; <see langword="null"/> in older records.</summary>
    public long? Sequence { get; init; }

    internal TimeSpan? Duration => DurationMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null;

    internal byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, LeaseJsonContext.Default.LeaseRecord);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(LeaseRecord))]
internal sealed partial class LeaseJsonContext : JsonSerializerContext;
