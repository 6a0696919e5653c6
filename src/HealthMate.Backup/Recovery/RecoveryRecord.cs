using System.Text.Json.Serialization;
using HealthMate.Backup.Failover;

namespace HealthMate.Backup.Recovery;

/// <summary>What kind of recovery a record measures.</summary>
public enum RecoveryKind
{
    /// <summary>A component failed over to its standby.</summary>
    Failover = 0,

    /// <summary>Data was restored from backups.</summary>
    Restore = 1,

    /// <summary>A playbook ran (its record carries the whole scenario's times).</summary>
    Playbook = 2,
}

/// <summary>
/// The measured outcome of one recovery (failover, restore or playbook run, real or drill), stored authenticated at
/// <c>{prefix}dr/recoveries/{id}.json</c>. RTO runs from the last healthy check before the failure (the outage began
/// after it, so the figure is never shorter than the real one), or the operator's request, to the moment the service
/// was confirmed to work again; RPO is the committed data that could not be recovered.
/// </summary>
public sealed record RecoveryRecord
{
    /// <summary>Gets the record's id (time-sortable).</summary>
    public required string Id { get; init; }

    /// <summary>Gets the kind of recovery.</summary>
    public required RecoveryKind Kind { get; init; }

    /// <summary>Gets the component (failover) or playbook (run) or target (restore).</summary>
    public required string Name { get; init; }

    /// <summary>Gets whether this was a drill.</summary>
    public bool IsDrill { get; init; }

    /// <summary>Gets the tier whose objectives apply, if any.</summary>
    public string? Tier { get; init; }

    /// <summary>Gets when the outage started at the latest as far as the system knows (the last healthy check), or the request time.</summary>
    public required DateTimeOffset OutageStartedAt { get; init; }

    /// <summary>Gets when the outage was declared (the component marked down, or the run started).</summary>
    public required DateTimeOffset DetectedAt { get; init; }

    /// <summary>Gets when service was confirmed restored, if it was.</summary>
    public DateTimeOffset? RestoredAt { get; init; }

    /// <summary>Gets whether the recovery succeeded.</summary>
    public required bool Succeeded { get; init; }

    /// <summary>Gets the achieved recovery time (outage start to restored), if restored.</summary>
    public TimeSpan? Rto { get; init; }

    /// <summary>Gets the achieved recovery point (data that could not be recovered), if known.</summary>
    public TimeSpan? Rpo { get; init; }

    /// <summary>Gets the RTO objective.</summary>
    public TimeSpan? RtoObjective { get; init; }

    /// <summary>Gets the RPO objective.</summary>
    public TimeSpan? RpoObjective { get; init; }

    /// <summary>Gets how the old primary was fenced (failovers).</summary>
    public FencingOutcome? Fencing { get; init; }

    /// <summary>Gets the playbook run this belongs to, if any.</summary>
    public string? RunId { get; init; }

    /// <summary>Gets one line for people; never a secret.</summary>
    public string Description { get; init; } = string.Empty;

    /// <summary>Gets whether the achieved RTO met its objective (<see langword="null"/> without one or when not restored).</summary>
    [JsonIgnore]
    public bool? RtoMet => RtoObjective is { } objective && Rto is { } achieved ? achieved <= objective : (RtoObjective is null ? null : false);

    /// <summary>Gets whether the achieved RPO met its objective (<see langword="null"/> without one or when unknown).</summary>
    [JsonIgnore]
    public bool? RpoMet => RpoObjective is { } objective && Rpo is { } achieved ? achieved <= objective : null;

    /// <summary>Gets whether the recovery succeeded within every objective it has.</summary>
    [JsonIgnore]
    public bool Compliant => Succeeded && RtoMet != false && RpoMet != false;
}

/// <summary>One audit entry: who did what, when, and how it ended. Stored authenticated at <c>{prefix}audit/{id}.json</c>.</summary>
/// <param name="Id">The entry's id (time-sortable).</param>
/// <param name="At">When.</param>
/// <param name="Actor">Who (a user, or <c>monitor</c> for automatic decisions).</param>
/// <param name="Action">What (<c>failover</c>, <c>playbook.run</c>, <c>playbook.dry-run</c>, <c>failover.approve</c>).</param>
/// <param name="Target">On what (a component, a playbook).</param>
/// <param name="Outcome">How it ended.</param>
/// <param name="Detail">One line; never a secret.</param>
public sealed record AuditRecord(string Id, DateTimeOffset At, string Actor, string Action, string Target, string Outcome, string Detail);

/// <summary>Compliance of the recoveries of one kind and name with their objectives.</summary>
public sealed record RecoveryCompliance
{
    /// <summary>Gets the kind.</summary>
    public required RecoveryKind Kind { get; init; }

    /// <summary>Gets the component or playbook.</summary>
    public required string Name { get; init; }

    /// <summary>Gets the tier, if any.</summary>
    public string? Tier { get; init; }

    /// <summary>Gets the number of recoveries (real and drills).</summary>
    public int Count { get; init; }

    /// <summary>Gets how many were drills.</summary>
    public int Drills { get; init; }

    /// <summary>Gets how many met every objective.</summary>
    public int CompliantCount { get; init; }

    /// <summary>Gets the median achieved RTO.</summary>
    public TimeSpan? MedianRto { get; init; }

    /// <summary>Gets the longest achieved RTO.</summary>
    public TimeSpan? MaxRto { get; init; }

    /// <summary>Gets the largest achieved RPO.</summary>
    public TimeSpan? MaxRpo { get; init; }

    /// <summary>Gets the RTO objective of the newest record.</summary>
    public TimeSpan? RtoObjective { get; init; }

    /// <summary>Gets the RPO objective of the newest record.</summary>
    public TimeSpan? RpoObjective { get; init; }

    /// <summary>Gets the newest record.</summary>
    public required RecoveryRecord Latest { get; init; }

    /// <summary>Gets whether every recovery met its objectives.</summary>
    public bool Compliant => CompliantCount == Count;
}

/// <summary>Achieved against objective, per recovery kind and name, over a period.</summary>
/// <param name="GeneratedAt">When.</param>
/// <param name="Since">The period's start.</param>
/// <param name="Entries">One per kind and name.</param>
public sealed record RecoveryComplianceReport(DateTimeOffset GeneratedAt, DateTimeOffset Since, IReadOnlyList<RecoveryCompliance> Entries)
{
    /// <summary>Gets whether every recovery in the period met its objectives.</summary>
    public bool Compliant => Entries.All(e => e.Compliant);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RecoveryRecord))]
[JsonSerializable(typeof(AuditRecord))]
[JsonSerializable(typeof(Playbooks.PlaybookRunReport))]
internal sealed partial class RecoveryJsonContext : JsonSerializerContext;
