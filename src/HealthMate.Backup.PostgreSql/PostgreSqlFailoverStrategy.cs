using System.Diagnostics;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <summary>
/// Fails a PostgreSQL primary over to a streaming standby, and probes "is there a writable primary" for the monitor.
/// It never makes a second primary that takes writes (the safety argument is in docs/disaster-recovery.md):
/// <list type="number">
/// <item><b>Decide</b>: a primary that answers and takes writes is never replaced automatically (only on a manual
/// request, fenced first). One that does not answer is replaced only if it is <i>fenced</i> (the
/// <see cref="PostgreSqlFailoverOptions.FenceHook"/> stopped it) or <i>isolated</i>: the chosen standby's WAL receiver
/// has been without a primary for <see cref="PostgreSqlFailoverOptions.IsolationTime"/>, no observer (standby or
/// <see cref="PostgreSqlFailoverOptions.Witnesses">witness</see>) still reaches it, and a majority of observers
/// confirm they cannot. Otherwise the failover is refused with the reason.</item>
/// <item><b>Check</b>: the standby is in recovery with replay not paused, and the committed data it may lack is within
/// the RPO budget. If the primary commits synchronously, only a standby that holds every acknowledged commit is
/// eligible.</item>
/// <item><b>Fence</b>: a reachable old primary stops taking writes before anything is promoted: every new login but
/// replication refused (its <c>pg_hba.conf</c> rewritten to <c>reject</c>, a file the standby never replays), every
/// client session ended, and, as a second line,
/// <c>default_transaction_read_only</c> and a <c>synchronous_standby_names</c> no standby has; then the standby is given
/// time to receive its last WAL.</item>
/// <item><b>Promote</b>: <c>pg_promote</c>, then wait until the standby assigns a transaction id (accepts writes).</item>
/// <item><b>Record and re-point</b>: the new primary and its timeline are recorded in the
/// <see cref="IFailoverTopologyStore"/> under the decider's fencing token, and published to the
/// <see cref="IEndpointRegistry"/>; clients using <see cref="PostgreSqlFailoverOptions.ClientConnectionString"/> find
/// it by themselves.</item>
/// </list>
/// The probe (same name as the strategy) is healthy when the current primary answers and takes writes. When it does
/// not, the recorded topology is read again and the other servers are asked: a primary on a newer timeline (promoted
/// by another host) is adopted; one on an older timeline is an old primary and is fenced, never adopted.
/// Fail over through <see cref="IFailoverCoordinator"/> (or a playbook), which holds the failover lease: calling
/// <see cref="FailOverAsync"/> directly from two hosts at once is not protected against.
/// </summary>
public sealed partial class PostgreSqlFailoverStrategy : IFencingFailoverStrategy, IHealthProbe
{
    private readonly PostgreSqlFailoverOptions _options;
    private readonly IReadOnlyList<PostgreSqlConnectionOptions> _nodes;
    private readonly IEndpointRegistry? _endpoints;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private int _primary;
    private Observation? _observed;
    private readonly HashSet<int> _formerPrimaries = [];
    private DateTimeOffset _formerCheckedAt = DateTimeOffset.MinValue;
    private int _formerCheckRunning;
    private string? _splitBrain;

    /// <summary>How often the probe looks at replaced primaries to fence one that came back as a primary.</summary>
    private static readonly TimeSpan FormerPrimaryCheckInterval = TimeSpan.FromSeconds(5);

    /// <summary>Initializes a new instance of the <see cref="PostgreSqlFailoverStrategy"/> class.</summary>
    /// <param name="options">The servers and limits; validated here.</param>
    /// <param name="endpoints">Where to publish the new primary, or <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock, or <see langword="null"/> for the system clock.</param>
    /// <param name="topology">Where the current primary is recorded, or <see langword="null"/> to keep it in this
    /// process only (a restarted host then starts again from <see cref="PostgreSqlFailoverOptions.Primary"/>).</param>
    public PostgreSqlFailoverStrategy(PostgreSqlFailoverOptions options, IEndpointRegistry? endpoints = null, TimeProvider? timeProvider = null, IFailoverTopologyStore? topology = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionsCheck.ThrowIfInvalid(options.Validate(), nameof(options));
        _options = options;
        _nodes = [options.Primary, .. options.Standbys];
        _witnesses = [.. options.Witnesses];
        _endpoints = endpoints;
        _time = timeProvider ?? TimeProvider.System;
        _topology = topology;
        _receiverLostSince = new long?[_nodes.Count];
    }

    /// <inheritdoc cref="IFailoverStrategy.Name" />
    public string Name => _options.Name;

    /// <summary>Gets the server this strategy believes is the primary now.</summary>
    public PostgreSqlConnectionOptions CurrentPrimary
    {
        get
        {
            lock (_gate)
            {
                return _nodes[_primary];
            }
        }
    }

    /// <inheritdoc />
    public async Task<FailoverCheck> CheckAsync(FailoverRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        await LoadTopologyAsync(force: false, cancellationToken).ConfigureAwait(false);
        var (check, _, _) = await CheckCoreAsync(request, waitForIsolation: false, cancellationToken).ConfigureAwait(false);
        return check;
    }

    /// <inheritdoc />
    public async Task<FailoverStep> FenceAsync(FailoverRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        await LoadTopologyAsync(force: false, cancellationToken).ConfigureAwait(false);
        var (step, _, _) = await FenceCoreAsync(CurrentIndex(), request, cancellationToken).ConfigureAwait(false);
        return step;
    }

    /// <inheritdoc />
    public async Task<FailoverResult> FailOverAsync(FailoverRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var steps = new List<FailoverStep>();
        var data = new Dictionary<string, object>(StringComparer.Ordinal);

        var started = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        await LoadTopologyAsync(force: true, cancellationToken).ConfigureAwait(false);
        var oldPrimary = CurrentIndex();
        var (check, candidate, condition) = await CheckCoreAsync(request, waitForIsolation: _options.FenceHook is null, cancellationToken).ConfigureAwait(false);
        steps.Add(new FailoverStep("check", started, clock.Elapsed, check.CanFailOver, check.Reason));
        foreach (var (key, value) in check.Data)
        {
            data[key] = value;
        }

        if (!check.CanFailOver || candidate is null)
        {
            return new FailoverResult { Succeeded = false, Refused = true, Description = $"not failed over: {check.Reason}", Steps = steps, Data = data };
        }

        // Stop the old primary taking writes: over SQL when it answers, else through the fence hook; without a fence,
        // only a confirmed isolation lets the promotion go on.
        FencingOutcome fencing;
        long? fencedLsn = null;
        if (condition is PrimaryCondition.Writable or PrimaryCondition.ReadOnly)
        {
            var (fence, outcome, lsn) = await FenceCoreAsync(oldPrimary, request, cancellationToken).ConfigureAwait(false);
            steps.Add(fence);
            (fencing, fencedLsn) = (outcome, lsn);
            if (fencing == FencingOutcome.Failed && !_options.PromoteIfFencingFails)
            {
                return new FailoverResult { Succeeded = false, Refused = true, Description = $"not failed over: the old primary answers but could not be fenced ({fence.Detail})", Steps = steps, Fencing = fencing, Data = data };
            }
        }
        else if (condition is PrimaryCondition.Fenced or PrimaryCondition.InRecovery)
        {
            fencing = FencingOutcome.Fenced;
        }
        else
        {
            var hooked = await FenceThroughHookAsync(oldPrimary, request, cancellationToken).ConfigureAwait(false);
            if (hooked is { } step)
            {
                steps.Add(step);
            }

            if (hooked is { Succeeded: true })
            {
                fencing = FencingOutcome.Fenced;
            }
            else
            {
                if (_options.FenceHook is not null)
                {
                    // The hook failed: fall back to the isolation rule, now waiting for it.
                    clock.Restart();
                    var again = _time.GetUtcNow();
                    (check, candidate, condition) = await CheckCoreAsync(request, waitForIsolation: true, cancellationToken).ConfigureAwait(false);
                    steps.Add(new FailoverStep("check-isolation", again, clock.Elapsed, check.CanFailOver && condition == PrimaryCondition.Isolated, check.Reason));
                    if (!check.CanFailOver || candidate is null || condition != PrimaryCondition.Isolated)
                    {
                        return new FailoverResult { Succeeded = false, Refused = true, Description = $"not failed over: the fence hook failed and {check.Reason}", Steps = steps, Data = data };
                    }
                }

                fencing = FencingOutcome.Isolated;
            }
        }

        var target = _nodes[candidate.Index];
        var reference = fencedLsn ?? Observed(oldPrimary)?.State.Lsn;
        if (fencedLsn is { } fenced)
        {
            steps.Add(await CatchUpAsync(target, fenced, cancellationToken).ConfigureAwait(false));
        }

        var promoteStarted = _time.GetUtcNow();
        clock.Restart();
        long replayed;
        DateTimeOffset writableAt;
        long timeline;
        try
        {
            (replayed, writableAt, timeline) = await PromoteAsync(target, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or System.Net.Sockets.SocketException && !cancellationToken.IsCancellationRequested)
        {
            // pg_promote may have been sent: the standby may still become the primary. A failed attempt, not a refusal:
            // recorded, and it counts for the cooldown so a retry does not promote a second standby.
            steps.Add(new FailoverStep("promote", promoteStarted, clock.Elapsed, false, $"{target} was asked to promote and did not confirm: {Describe(ex)}"));
            return new FailoverResult { Succeeded = false, Description = $"{target} may or may not have been promoted in place of {_nodes[oldPrimary]} ({fencing}): {Describe(ex)}; the probe adopts it if it becomes the primary", Steps = steps, Fencing = fencing, Data = data };
        }

        steps.Add(new FailoverStep("promote", promoteStarted, clock.Elapsed, true, $"{target} promoted on timeline {timeline}; accepts writes after {clock.Elapsed.TotalMilliseconds:0} ms"));

        var (lostBytes, dataLoss) = DataLossOf(condition, reference, replayed, candidate);
        data["replayed_lsn"] = FormatLsn(replayed);
        data["timeline"] = timeline;
        if (reference is { } known)
        {
            data["old_primary_lsn"] = FormatLsn(known);
        }

        steps.Add(await RecordTopologyAsync(candidate.Index, timeline, request, cancellationToken).ConfigureAwait(false));
        var repointStarted = _time.GetUtcNow();
        Adopt(candidate.Index, timeline, $"{_nodes[oldPrimary]} failed over ({request.Reason})");
        steps.Add(new FailoverStep("re-point", repointStarted, _time.GetUtcNow() - repointStarted, true, $"{Name} now at {target.Host}:{target.Port}"));
        if (_nodes.Count > 2)
        {
            steps.Add(await RepointStandbysAsync(candidate.Index, oldPrimary, cancellationToken).ConfigureAwait(false));
        }

        return new FailoverResult
        {
            Succeeded = true,
            Description = $"{target} promoted in place of {_nodes[oldPrimary]} ({fencing}); {DescribeLoss(condition, lostBytes, candidate)}",
            Steps = steps,
            Fencing = fencing,
            NewEndpoint = $"{target.Host}:{target.Port}",
            RestoredAt = writableAt,
            DataLoss = dataLoss,
            DataLossBytes = lostBytes,
            Data = data,
        };
    }

    private int CurrentIndex()
    {
        lock (_gate)
        {
            return _primary;
        }
    }

    private Observation? Observed(int index)
    {
        lock (_gate)
        {
            return _observed is { } o && o.Index == index ? o : null;
        }
    }

    private void Observe(int index, PrimaryState state)
    {
        lock (_gate)
        {
            _observed = new Observation(index, _time.GetUtcNow(), state);
        }
    }

    private void Adopt(int index, long timeline, string reason)
    {
        lock (_gate)
        {
            _timeline = Math.Max(_timeline, timeline);
            if (_primary == index)
            {
                return;
            }

            _formerPrimaries.Add(_primary);
            _formerPrimaries.Remove(index);
            _primary = index;
            _formerCheckedAt = DateTimeOffset.MinValue;
            Array.Clear(_receiverLostSince);
        }

        var node = _nodes[index];
        _endpoints?.Publish(new ServiceEndpoint(Name, $"{node.Host}:{node.Port}", _time.GetUtcNow(), reason));
    }

    private sealed record Observation(int Index, DateTimeOffset At, PrimaryState State);
}
