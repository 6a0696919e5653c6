using System.Text.Json.Serialization;

namespace HealthMate.Backup.Scheduling;

/// <summary>How a scheduled run ended.</summary>
public enum JobOutcome
{
    /// <summary>The job finished without error.</summary>
    Succeeded = 0,

    /// <summary>The job threw.</summary>
    Failed = 1,

    /// <summary>The job ran past its timeout and was cancelled.</summary>
    TimedOut = 2,

    /// <summary>The run lost its lease and stopped before committing.</summary>
    LeaseLost = 3,

    /// <summary>The host shut down during the run.</summary>
    Cancelled = 4,
}

/// <summary>
/// The record of one run of a scheduled job, stored authenticated at <c>{prefix}jobs/{job}/runs/{run-id}.json</c>
/// (and the newest at <c>jobs/{job}/last.json</c>), so every host knows what ran, when, and how it ended.
/// </summary>
public sealed record JobRun
{
    /// <summary>Gets the run's id (time-sortable, like a backup id).</summary>
    public required string RunId { get; init; }

    /// <summary>Gets the job's name.</summary>
    public required string Job { get; init; }

    /// <summary>Gets the scheduled time the run was for.</summary>
    public required DateTimeOffset ScheduledAt { get; init; }

    /// <summary>Gets when the run started.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>Gets when it ended.</summary>
    public required DateTimeOffset CompletedAt { get; init; }

    /// <summary>Gets how it ended.</summary>
    public required JobOutcome Outcome { get; init; }

    /// <summary>Gets what the job reported it did, if anything.</summary>
    public string? Summary { get; init; }

    /// <summary>Gets why it failed (the error's message, never a secret), if it did.</summary>
    public string? Failure { get; init; }

    /// <summary>Gets the fencing token of the lease it ran under (0 without a lease).</summary>
    public long FencingToken { get; init; }

    /// <summary>Gets the host that ran it.</summary>
    public string? Host { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JobRun))]
internal sealed partial class JobRunJsonContext : JsonSerializerContext;
