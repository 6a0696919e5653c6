namespace HealthMate.Backup.Failover;

/// <summary>
/// Moves one component (a database, an application tier, a load-balancer pool) from its failed primary to a standby:
/// checks that a standby can take over, fences the old primary where it can, promotes, and re-points clients.
/// Implementations report what they did and how long each step took, and never throw for an expected refusal.
/// </summary>
public interface IFailoverStrategy
{
    /// <summary>Gets the component this strategy fails over (<c>database</c>, <c>application</c>); the health
    /// monitor's probe of the same name decides when it is down.</summary>
    string Name { get; }

    /// <summary>Checks, without changing anything, whether a failover could happen now and lose no more than the budget.</summary>
    /// <param name="request">Why, and the data-loss budget.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>Whether a failover can happen, and why (not).</returns>
    Task<FailoverCheck> CheckAsync(FailoverRequest request, CancellationToken cancellationToken = default);

    /// <summary>Fails the component over: checks eligibility, fences, promotes, re-points clients. A refusal before
    /// anything changed is a result with <see cref="FailoverResult.Refused"/> set (callers report it as a refusal, not
    /// a failed failover).</summary>
    /// <param name="request">Why, the data-loss budget and the caller's fencing token.</param>
    /// <param name="cancellationToken">Cancels the failover (a promotion already requested is not undone).</param>
    /// <returns>What happened, step by step.</returns>
    Task<FailoverResult> FailOverAsync(FailoverRequest request, CancellationToken cancellationToken = default);
}

/// <summary>A strategy that can stop the old primary taking writes on its own, before and apart from a promotion
/// (the "stop writes" step of a database-failure playbook).</summary>
public interface IFencingFailoverStrategy : IFailoverStrategy
{
    /// <summary>Fences the current primary if it is reachable.</summary>
    /// <param name="request">Why.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>Whether it was fenced, unreachable, or could not be fenced.</returns>
    Task<FailoverStep> FenceAsync(FailoverRequest request, CancellationToken cancellationToken = default);
}

/// <summary>Why a failover is asked for and what it may cost.</summary>
public sealed record FailoverRequest
{
    /// <summary>Gets why: the monitor's finding, or an operator's words.</summary>
    public required string Reason { get; init; }

    /// <summary>Gets the most committed data that may be lost, as time (the tier's RPO); <see langword="null"/> uses the strategy's own budget.</summary>
    public TimeSpan? RpoBudget { get; init; }

    /// <summary>Gets when the failure was first seen, if known.</summary>
    public DateTimeOffset? DetectedAt { get; init; }

    /// <summary>Gets the decider's lease fencing token, passed to hooks so that a replaced decider's call can be refused.</summary>
    public long? FencingToken { get; init; }

    /// <summary>Gets whether this is a drill (test mode): hooks are told, records are marked.</summary>
    public bool IsDrill { get; init; }

    /// <summary>Gets whether an operator asked for it (a planned switchover) rather than the monitor.</summary>
    public bool Manual { get; init; }
}

/// <summary>Whether a failover can happen now.</summary>
/// <param name="CanFailOver">Whether it can.</param>
/// <param name="Reason">Why (not), one line for people; never a secret.</param>
/// <param name="Data">What was measured (candidate, lag, replication state).</param>
public sealed record FailoverCheck(bool CanFailOver, string Reason, IReadOnlyDictionary<string, object> Data);

/// <summary>How the old primary was stopped from taking writes.</summary>
public enum FencingOutcome
{
    /// <summary>The strategy does not fence (a hook decides), or it did not get that far.</summary>
    NotAttempted,

    /// <summary>The old primary was reachable and now takes no writes.</summary>
    Fenced,

    /// <summary>The old primary could not be reached: it was not fenced and must not come back as a primary.</summary>
    Unreachable,

    /// <summary>The old primary was reachable but fencing it failed.</summary>
    Failed,

    /// <summary>The old primary could not be reached and was confirmed cut off from every observer (its standbys' WAL
    /// receivers lost it, and a majority of observers cannot reach it); it was not fenced and must not come back as a
    /// primary.</summary>
    Isolated,
}

/// <summary>One step of a failover.</summary>
/// <param name="Name">The step (<c>check</c>, <c>fence</c>, <c>catch-up</c>, <c>promote</c>, <c>re-point</c>).</param>
/// <param name="StartedAt">When it started.</param>
/// <param name="Duration">How long it took.</param>
/// <param name="Succeeded">Whether it did what it should.</param>
/// <param name="Detail">What it did or why it failed; never a secret.</param>
public sealed record FailoverStep(string Name, DateTimeOffset StartedAt, TimeSpan Duration, bool Succeeded, string Detail);

/// <summary>What a failover did.</summary>
public sealed record FailoverResult
{
    /// <summary>Gets whether the component was failed over and accepts work again.</summary>
    public required bool Succeeded { get; init; }

    /// <summary>Gets whether the strategy refused before changing anything (no eligible standby, a check hook said no).</summary>
    public bool Refused { get; init; }

    /// <summary>Gets one line for people: what happened or why it did not.</summary>
    public required string Description { get; init; }

    /// <summary>Gets the steps, in order.</summary>
    public IReadOnlyList<FailoverStep> Steps { get; init; } = [];

    /// <summary>Gets how the old primary was fenced.</summary>
    public FencingOutcome Fencing { get; init; }

    /// <summary>Gets where clients should now go (<c>host:port</c>, a URL), if it changed.</summary>
    public string? NewEndpoint { get; init; }

    /// <summary>Gets when the new primary was first confirmed to accept work.</summary>
    public DateTimeOffset? RestoredAt { get; init; }

    /// <summary>Gets the committed data that could not be carried over, as time: zero when the standby had everything
    /// the old primary was last seen to write; otherwise an upper bound. <see langword="null"/> when unknown.</summary>
    public TimeSpan? DataLoss { get; init; }

    /// <summary>Gets the WAL bytes the old primary was last seen to have written that the new primary did not receive.</summary>
    public long? DataLossBytes { get; init; }

    /// <summary>Gets further measurements by name.</summary>
    public IReadOnlyDictionary<string, object> Data { get; init; } = new Dictionary<string, object>();
}
