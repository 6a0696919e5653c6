using System.Diagnostics;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;

namespace HealthMate.Backup.PostgreSql;

/// <summary>
/// Fails a PostgreSQL primary over to a streaming standby, and probes "is there a writable primary" for the monitor.
/// <list type="number">
/// <item><b>Check</b>: the standby is in recovery with replay not paused, and the committed data it lacks (the primary's
/// live WAL position if reachable, else the last position the probe saw) is within the RPO budget. If the primary
/// commits synchronously (<c>synchronous_standby_names</c>), only the standby it was last seen committing to
/// synchronously is eligible: any other may miss acknowledged commits.</item>
/// <item><b>Fence</b>: if the old primary answers, it stops taking writes before anything is promoted
/// (<c>default_transaction_read_only</c>, <c>synchronous_standby_names</c> set to a standby that does not exist so no
/// commit is acknowledged, client sessions ended), and the standby is given time to receive its last WAL. If it does
/// not answer it is recorded as not fenced.</item>
/// <item><b>Promote</b>: <c>pg_promote</c>, then wait until the standby assigns a transaction id (accepts writes).</item>
/// <item><b>Re-point</b>: the new primary is published to the <see cref="IEndpointRegistry"/>; clients using
/// <see cref="PostgreSqlFailoverOptions.ClientConnectionString"/> find it by themselves.</item>
/// </list>
/// The probe (same name as the strategy) is healthy when the current primary answers and takes writes; when it does
/// not, the other servers are asked, so a promotion done by another host is adopted.
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
    public PostgreSqlFailoverStrategy(PostgreSqlFailoverOptions options, IEndpointRegistry? endpoints = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionsCheck.ThrowIfInvalid(options.Validate(), nameof(options));
        _options = options;
        _nodes = [options.Primary, .. options.Standbys];
        _endpoints = endpoints;
        _time = timeProvider ?? TimeProvider.System;
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
        var (check, _) = await CheckCoreAsync(request, cancellationToken).ConfigureAwait(false);
        return check;
    }

    /// <inheritdoc />
    public async Task<FailoverStep> FenceAsync(FailoverRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (step, _, _) = await FenceCoreAsync(CurrentIndex(), cancellationToken).ConfigureAwait(false);
        return step;
    }

    /// <inheritdoc />
    public async Task<FailoverResult> FailOverAsync(FailoverRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var steps = new List<FailoverStep>();
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var oldPrimary = CurrentIndex();

        var started = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        var (check, candidate) = await CheckCoreAsync(request, cancellationToken).ConfigureAwait(false);
        steps.Add(new FailoverStep("check", started, clock.Elapsed, check.CanFailOver, check.Reason));
        foreach (var (key, value) in check.Data)
        {
            data[key] = value;
        }

        if (!check.CanFailOver || candidate is null)
        {
            return new FailoverResult { Succeeded = false, Refused = true, Description = $"not failed over: {check.Reason}", Steps = steps, Data = data };
        }

        var (fence, fencing, fencedLsn) = await FenceCoreAsync(oldPrimary, cancellationToken).ConfigureAwait(false);
        steps.Add(fence);
        if (fencing == FencingOutcome.Failed && !_options.PromoteIfFencingFails)
        {
            return new FailoverResult { Succeeded = false, Description = $"not failed over: the old primary answers but could not be fenced ({fence.Detail})", Steps = steps, Fencing = fencing, Data = data };
        }

        var target = _nodes[candidate.Index];
        var reference = fencedLsn ?? Observed(oldPrimary)?.State.Lsn;
        if (fencedLsn is { } lsn)
        {
            steps.Add(await CatchUpAsync(target, lsn, cancellationToken).ConfigureAwait(false));
        }

        var promoteStarted = _time.GetUtcNow();
        clock.Restart();
        var (replayed, writableAt) = await PromoteAsync(target, cancellationToken).ConfigureAwait(false);
        steps.Add(new FailoverStep("promote", promoteStarted, clock.Elapsed, true, $"{target} promoted; accepts writes after {clock.Elapsed.TotalMilliseconds:0} ms"));

        long? lostBytes = reference is { } r ? Math.Max(0, r - replayed) : null;
        TimeSpan? dataLoss = lostBytes switch
        {
            0 => TimeSpan.Zero,
            null => null,
            _ => candidate.ReplayAge,
        };
        data["replayed_lsn"] = FormatLsn(replayed);
        if (reference is { } known)
        {
            data["old_primary_lsn"] = FormatLsn(known);
        }

        var repointStarted = _time.GetUtcNow();
        Adopt(candidate.Index, $"{_nodes[oldPrimary]} failed over ({request.Reason})");
        steps.Add(new FailoverStep("re-point", repointStarted, _time.GetUtcNow() - repointStarted, true, $"{Name} now at {target.Host}:{target.Port}"));
        if (_nodes.Count > 2)
        {
            steps.Add(await RepointStandbysAsync(candidate.Index, oldPrimary, cancellationToken).ConfigureAwait(false));
        }

        return new FailoverResult
        {
            Succeeded = true,
            Description = $"{target} promoted in place of {_nodes[oldPrimary]} ({fencing}); {(lostBytes is null ? "data loss unknown (the old primary's last position was never seen)" : $"{lostBytes} WAL bytes not carried over")}",
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

    private void Adopt(int index, string reason)
    {
        lock (_gate)
        {
            if (_primary == index)
            {
                return;
            }

            _formerPrimaries.Add(_primary);
            _formerPrimaries.Remove(index);
            _primary = index;
            _formerCheckedAt = DateTimeOffset.MinValue;
        }

        var node = _nodes[index];
        _endpoints?.Publish(new ServiceEndpoint(Name, $"{node.Host}:{node.Port}", _time.GetUtcNow(), reason));
    }

    private sealed record Observation(int Index, DateTimeOffset At, PrimaryState State);
}
