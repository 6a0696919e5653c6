namespace HealthMate.Backup.Playbooks;

/// <summary>How a playbook is run.</summary>
public enum PlaybookMode
{
    /// <summary>For real.</summary>
    Live = 0,

    /// <summary>Explain what would happen: preconditions are checked, nothing is executed, nothing changes.</summary>
    DryRun = 1,

    /// <summary>For real against real infrastructure, recorded as a drill with its measured RTO and RPO.</summary>
    Drill = 2,
}

/// <summary>How a run ended.</summary>
public enum PlaybookOutcome
{
    /// <summary>Every step succeeded (or, in a dry run, would run).</summary>
    Succeeded = 0,

    /// <summary>A step failed; completed steps were compensated.</summary>
    Failed = 1,

    /// <summary>The run was cancelled; completed steps were compensated.</summary>
    Cancelled = 2,

    /// <summary>An approval was rejected or expired; completed steps were compensated.</summary>
    Rejected = 3,
}

/// <summary>How a step ended.</summary>
public enum PlaybookStepOutcome
{
    /// <summary>Not reached.</summary>
    NotRun = 0,

    /// <summary>Succeeded.</summary>
    Succeeded = 1,

    /// <summary>Failed (after its retries).</summary>
    Failed = 2,

    /// <summary>Its last attempt ran past its timeout.</summary>
    TimedOut = 3,

    /// <summary>Its precondition was not met.</summary>
    PreconditionFailed = 4,

    /// <summary>Its approval was rejected or expired.</summary>
    Rejected = 5,

    /// <summary>Cancelled with the run.</summary>
    Cancelled = 6,

    /// <summary>Dry run: would run.</summary>
    WouldRun = 7,

    /// <summary>Succeeded, then undone by its compensation.</summary>
    Compensated = 8,

    /// <summary>Succeeded, then its compensation failed: look at it.</summary>
    CompensationFailed = 9,
}

/// <summary>One step of a run.</summary>
public sealed record PlaybookStepReport
{
    /// <summary>Gets the step's name.</summary>
    public required string Name { get; init; }

    /// <summary>Gets what the step does.</summary>
    public string Description { get; init; } = string.Empty;

    /// <summary>Gets how it ended.</summary>
    public PlaybookStepOutcome Outcome { get; init; }

    /// <summary>Gets when it started.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>Gets when it ended.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>Gets how many attempts it took.</summary>
    public int Attempts { get; init; }

    /// <summary>Gets its output, or why it failed; never a secret.</summary>
    public string Output { get; init; } = string.Empty;

    /// <summary>Gets its compensation's output, if one ran.</summary>
    public string? CompensationOutput { get; init; }

    /// <summary>Gets its measurements, formatted.</summary>
    public Dictionary<string, string> Data { get; init; } = [];
}

/// <summary>What a playbook run did, stored authenticated at <c>{prefix}dr/runs/{run-id}.json</c>.</summary>
public sealed record PlaybookRunReport
{
    /// <summary>Gets the run's id (time-sortable).</summary>
    public required string RunId { get; init; }

    /// <summary>Gets the playbook's name.</summary>
    public required string Playbook { get; init; }

    /// <summary>Gets the mode.</summary>
    public PlaybookMode Mode { get; init; }

    /// <summary>Gets who started it.</summary>
    public required string Actor { get; init; }

    /// <summary>Gets why.</summary>
    public string Reason { get; init; } = string.Empty;

    /// <summary>Gets when it started.</summary>
    public DateTimeOffset StartedAt { get; init; }

    /// <summary>Gets when it ended.</summary>
    public DateTimeOffset EndedAt { get; init; }

    /// <summary>Gets the total time.</summary>
    public TimeSpan Duration => EndedAt - StartedAt;

    /// <summary>Gets how it ended.</summary>
    public PlaybookOutcome Outcome { get; init; }

    /// <summary>Gets the steps, in order.</summary>
    public IReadOnlyList<PlaybookStepReport> Steps { get; init; } = [];

    /// <summary>Gets the tier, if any.</summary>
    public string? Tier { get; init; }

    /// <summary>Gets the RTO objective.</summary>
    public TimeSpan? RtoObjective { get; init; }

    /// <summary>Gets the RPO objective.</summary>
    public TimeSpan? RpoObjective { get; init; }

    /// <summary>Gets the achieved RTO (outage start to the run's successful end); live and drill runs only.</summary>
    public TimeSpan? Rto { get; init; }

    /// <summary>Gets the achieved RPO (the largest data loss a step measured), if any step measured it.</summary>
    public TimeSpan? Rpo { get; init; }
}
