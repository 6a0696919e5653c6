using System.Collections.Concurrent;
using System.Threading.Channels;
using HealthMate.Backup.Health;
using HealthMate.Backup.Leases;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Recovery;
using HealthMate.Backup.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Failover;

/// <summary>How a failover decision ended.</summary>
public enum FailoverOutcome
{
    /// <summary>The component was failed over.</summary>
    FailedOver = 0,

    /// <summary>The strategy tried and failed.</summary>
    Failed = 1,

    /// <summary>The strategy refused (no eligible standby, lag over budget, may lose acknowledged commits).</summary>
    Refused = 2,

    /// <summary>Another host holds the decider's lease and decides.</summary>
    LeaseHeldElsewhere = 3,

    /// <summary>A failover of the component succeeded within the cooldown.</summary>
    CoolingDown = 4,

    /// <summary>The approval was rejected or expired.</summary>
    Rejected = 5,

    /// <summary>The component came back before the decision.</summary>
    Recovered = 6,
}

/// <summary>A failover decision and, if it ran, what the strategy did and what was measured.</summary>
/// <param name="Component">The component.</param>
/// <param name="Outcome">How it ended.</param>
/// <param name="Reason">Why, one line.</param>
/// <param name="At">When it was decided.</param>
/// <param name="Result">The strategy's result, if it ran.</param>
/// <param name="Record">The measured recovery, if it ran.</param>
public sealed record FailoverDecision(string Component, FailoverOutcome Outcome, string Reason, DateTimeOffset At, FailoverResult? Result = null, RecoveryRecord? Record = null);

/// <summary>
/// Decides failovers: when the health monitor declares a component down it takes the component's decider lease (so two
/// hosts never both promote), honours the cooldown (the last failover is read from storage), asks the strategy whether
/// it can fail over within the tier's RPO, waits for approval if configured, then fails over and records the measured
/// RTO and RPO. Operators can also fail over by hand.
/// </summary>
public interface IFailoverCoordinator
{
    /// <summary>Raised after every decision.</summary>
    event EventHandler<FailoverDecision>? Decided;

    /// <summary>Gets the registered strategies' names.</summary>
    IReadOnlyList<string> Components { get; }

    /// <summary>Asks a component's strategy whether it could fail over now, within its tier's RPO.</summary>
    /// <param name="component">The component.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The answer.</returns>
    Task<FailoverCheck> CheckAsync(string component, CancellationToken cancellationToken = default);

    /// <summary>Fails a component over now, by an operator (no cooldown, no approval gate; still under the lease).</summary>
    /// <param name="component">The component.</param>
    /// <param name="reason">Why.</param>
    /// <param name="actor">Who asks, for the audit trail.</param>
    /// <param name="isDrill">Whether this is a drill.</param>
    /// <param name="cancellationToken">Cancels the failover.</param>
    /// <returns>The decision.</returns>
    Task<FailoverDecision> FailOverAsync(string component, string reason, string actor, bool isDrill = false, CancellationToken cancellationToken = default);
}

/// <summary>The coordinator; as a hosted service it listens to the health monitor.</summary>
internal sealed class FailoverCoordinator : BackgroundService, IFailoverCoordinator
{
    private readonly Dictionary<string, IFailoverStrategy> _strategies;
    private readonly FailoverOptions _options;
    private readonly IHealthMonitor? _monitor;
    private readonly ILeaseProvider _leases;
    private readonly RecoveryRecords _records;
    private readonly IApprovalGate _approvals;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<ComponentStateChange> _downs = Channel.CreateUnbounded<ComponentStateChange>();
    private readonly ConcurrentDictionary<string, byte> _deciding = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _lastRefusal = new(StringComparer.Ordinal);

    public FailoverCoordinator(IEnumerable<IFailoverStrategy> strategies, BackupEnvironment environment, RecoveryRecords records, IApprovalGate approvals, IServiceProvider services)
    {
        _options = environment.Options.Failover;
        _time = environment.TimeProvider;
        _logger = environment.LoggerFactory.CreateLogger<FailoverCoordinator>();
        _strategies = strategies.GroupBy(s => s.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        foreach (var (name, component) in _options.Components)
        {
            if (component.Hook is { } hook && !_strategies.ContainsKey(name))
            {
                _strategies[name] = new HookFailoverStrategy(name, hook, component.CheckHook, _time);
            }
        }

        _monitor = (IHealthMonitor?)services.GetService(typeof(IHealthMonitor));
        _leases = _options.Lease == FailoverLeaseKind.Registered ? LeaseProviders.Registered(services, "Failover:Lease") : LeaseProviders.Storage(environment);
        _records = records;
        _approvals = approvals;
    }

    public event EventHandler<FailoverDecision>? Decided;

    public IReadOnlyList<string> Components => [.. _strategies.Keys.Order(StringComparer.Ordinal)];

    public Task<FailoverCheck> CheckAsync(string component, CancellationToken cancellationToken = default)
    {
        var strategy = Strategy(component);
        var objective = _records.Objective(_options.Resolve(component).Tier);
        // "Could it fail over if asked": a working primary does not make the standby ineligible (as for a manual request).
        return strategy.CheckAsync(new FailoverRequest { Reason = "readiness check", RpoBudget = objective?.Rpo, Manual = true }, cancellationToken);
    }

    public Task<FailoverDecision> FailOverAsync(string component, string reason, string actor, bool isDrill = false, CancellationToken cancellationToken = default)
    {
        Strategy(component);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        var now = _time.GetUtcNow();
        return DecideAsync(component, reason, actor, manual: true, isDrill, now, now, cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_monitor is null || _strategies.Count == 0)
        {
            return;
        }

        _monitor.StateChanged += OnStateChanged;
        foreach (var status in _monitor.GetStatus().Where(s => s.State == ComponentState.Down))
        {
            // Down before this service listened: decide on it too.
            _downs.Writer.TryWrite(new ComponentStateChange(status.Name, ComponentState.Suspect, ComponentState.Down, status.Since ?? _time.GetUtcNow(), status.FirstFailureAt, status.Last?.Description ?? "down"));
        }

        try
        {
            await foreach (var down in _downs.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                var component = _strategies.Keys.FirstOrDefault(name => (_options.Resolve(name).Probe ?? name) == down.Component);
                if (component is not null && _options.Resolve(component).Automatic && _deciding.TryAdd(component, 0))
                {
                    _ = Task.Run(() => KeepDecidingAsync(component, down, stoppingToken), CancellationToken.None);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _monitor.StateChanged -= OnStateChanged;
        }
    }

    private void OnStateChanged(object? sender, ComponentStateChange change)
    {
        if (change.Current == ComponentState.Down)
        {
            _downs.Writer.TryWrite(change);
        }
    }

    /// <summary>Decides, and decides again every retry interval while the component stays down and nothing was done.</summary>
    private async Task KeepDecidingAsync(string component, ComponentStateChange down, CancellationToken stoppingToken)
    {
        var options = _options.Resolve(component);
        var probe = options.Probe ?? component;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                FailoverDecision decision;
                try
                {
                    decision = await DecideAsync(component, $"{probe} is down: {down.Description}", "monitor", manual: false, isDrill: false, down.LastHealthyAt ?? down.FirstFailureAt ?? down.At, down.At, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    Log.FailoverDecisionFailed(_logger, component, ex);
                    decision = await FinishAsync(new FailoverDecision(component, FailoverOutcome.Failed, $"the decision failed: {ex.GetType().Name}: {ex.Message}", _time.GetUtcNow()), "monitor", audit: true).ConfigureAwait(false);
                }

                if (decision.Outcome is FailoverOutcome.FailedOver or FailoverOutcome.Recovered or FailoverOutcome.Rejected)
                {
                    return;
                }

                await Task.Delay(options.RetryInterval, _time, stoppingToken).ConfigureAwait(false);
                if (_monitor!.GetStatus(probe)?.State != ComponentState.Down)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _deciding.TryRemove(component, out _);
        }
    }

    private async Task<FailoverDecision> DecideAsync(string component, string reason, string actor, bool manual, bool isDrill, DateTimeOffset outageStartedAt, DateTimeOffset detectedAt, CancellationToken cancellationToken)
    {
        var strategy = Strategy(component);
        var options = _options.Resolve(component);
        var objective = _records.Objective(options.Tier);
        var lease = await _leases.TryAcquireAsync($"failover.{component}", _options.LeaseDuration, cancellationToken).ConfigureAwait(false);
        if (lease is null)
        {
            return await FinishAsync(new FailoverDecision(component, FailoverOutcome.LeaseHeldElsewhere, $"another host holds lease failover.{component} and decides", _time.GetUtcNow()), actor, audit: manual).ConfigureAwait(false);
        }

        await using (lease.ConfigureAwait(false))
        {
            using var renewal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var renewing = RenewAsync(lease, renewal.Token);
            try
            {
                using var work = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.Lost);
                return await DecideHoldingAsync(component, strategy, options, objective, lease, reason, actor, manual, isDrill, outageStartedAt, detectedAt, work.Token).ConfigureAwait(false);
            }
            finally
            {
                await renewal.CancelAsync().ConfigureAwait(false);
                await renewing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task<FailoverDecision> DecideHoldingAsync(string component, IFailoverStrategy strategy, FailoverComponentOptions options, RecoveryObjective? objective, ILease lease, string reason, string actor, bool manual, bool isDrill, DateTimeOffset outageStartedAt, DateTimeOffset detectedAt, CancellationToken cancellationToken)
    {
        if (!manual)
        {
            // Every attempt counts, not only successes: a failed one may have promoted a standby after all (a promote
            // that timed out), and a retry must not promote a second one.
            var since = _time.GetUtcNow() - options.Cooldown;
            var last = await _records.ListAsync(since, cancellationToken).Where(r => r.Kind == RecoveryKind.Failover && r.Name == component && (r.RestoredAt ?? r.DetectedAt) >= since).LastOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            if (last is not null)
            {
                var what = last.Succeeded ? $"failed over at {last.RestoredAt:u}" : $"had a failed failover attempt decided at {last.DetectedAt:u}";
                return await FinishAsync(new FailoverDecision(component, FailoverOutcome.CoolingDown, $"{component} {what} (record {last.Id}); the cooldown of {options.Cooldown} has not passed", _time.GetUtcNow()), actor, audit: false).ConfigureAwait(false);
            }

            if (_monitor?.GetStatus(options.Probe ?? component) is { State: not ComponentState.Down } status)
            {
                return await FinishAsync(new FailoverDecision(component, FailoverOutcome.Recovered, $"{status.Name} is {status.State} again", _time.GetUtcNow()), actor, audit: false).ConfigureAwait(false);
            }
        }

        var request = new FailoverRequest { Reason = reason, RpoBudget = objective?.Rpo, DetectedAt = detectedAt, FencingToken = lease.FencingToken, IsDrill = isDrill, Manual = manual };
        if (!manual && options.RequireApproval)
        {
            // The person sees what the strategy found; the strategy checks again when it runs (things change while people think).
            var check = await strategy.CheckAsync(request, cancellationToken).ConfigureAwait(false);
            if (!check.CanFailOver)
            {
                return await RefuseAsync(component, check.Reason, actor, manual).ConfigureAwait(false);
            }

            var answer = await _approvals.RequestAsync($"failover:{component}", $"fail {component} over ({reason}); {check.Reason}", options.ApprovalTimeout, cancellationToken).ConfigureAwait(false);
            if (!answer.Approved)
            {
                return await FinishAsync(new FailoverDecision(component, FailoverOutcome.Rejected, $"rejected by {answer.By}{(answer.Reason is null ? string.Empty : ": " + answer.Reason)}", _time.GetUtcNow()), actor, audit: true).ConfigureAwait(false);
            }

            actor = $"{actor}, approved by {answer.By}";

            // The approval may have taken minutes: decide on what is true now, not on what the person was shown.
            if (_monitor?.GetStatus(options.Probe ?? component) is { State: not ComponentState.Down } now)
            {
                return await FinishAsync(new FailoverDecision(component, FailoverOutcome.Recovered, $"approved, but {now.Name} is {now.State} again: not failed over", _time.GetUtcNow()), actor, audit: true).ConfigureAwait(false);
            }
        }

        await lease.EnsureHeldAsync(cancellationToken).ConfigureAwait(false);
        FailoverResult result;
        try
        {
            result = await strategy.FailOverAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The strategy may have changed something before it threw: a failed attempt, recorded so it counts for the cooldown.
            Log.FailoverDecisionFailed(_logger, component, ex);
            result = new FailoverResult { Succeeded = false, Description = $"the failover threw {ex.GetType().Name}: {ex.Message}" };
        }
        if (result.Refused)
        {
            // Refused by its own check before it changed anything: not a failed failover.
            return await RefuseAsync(component, result.Steps.LastOrDefault()?.Detail ?? result.Description, actor, manual).ConfigureAwait(false);
        }

        _lastRefusal.TryRemove(component, out _);
        var record = new RecoveryRecord
        {
            Id = _records.NewId(),
            Kind = RecoveryKind.Failover,
            Name = component,
            IsDrill = isDrill,
            Tier = options.Tier,
            OutageStartedAt = outageStartedAt,
            DetectedAt = detectedAt,
            RestoredAt = result.RestoredAt,
            Succeeded = result.Succeeded,
            Rto = result.RestoredAt - outageStartedAt,
            Rpo = result.DataLoss,
            RtoObjective = objective?.Rto,
            RpoObjective = objective?.Rpo,
            Fencing = result.Fencing,
            Description = result.Description,
        };
        await _records.AddAsync(record, CancellationToken.None).ConfigureAwait(false);
        var outcome = result.Succeeded ? FailoverOutcome.FailedOver : FailoverOutcome.Failed;
        return await FinishAsync(new FailoverDecision(component, outcome, result.Description, _time.GetUtcNow(), result, record), actor, audit: true).ConfigureAwait(false);
    }

    /// <summary>A refusal; a long outage is re-decided every few seconds, so it is audited when its reason changes, not each time.</summary>
    private Task<FailoverDecision> RefuseAsync(string component, string reason, string actor, bool manual)
    {
        var repeated = !manual && _lastRefusal.TryGetValue(component, out var last) && last == reason;
        _lastRefusal[component] = reason;
        return FinishAsync(new FailoverDecision(component, FailoverOutcome.Refused, reason, _time.GetUtcNow()), actor, audit: !repeated);
    }

    private async Task<FailoverDecision> FinishAsync(FailoverDecision decision, string actor, bool audit)
    {
        Log.FailoverDecided(_logger, decision.Component, decision.Outcome.ToString(), decision.Reason);
        if (audit)
        {
            var entry = new AuditRecord(_records.NewId(), decision.At, actor, "failover", decision.Component, decision.Outcome.ToString(), decision.Reason);
            try
            {
                await _records.AuditAsync(entry, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is Storage.StorageException or IOException)
            {
                Log.FailoverDecisionFailed(_logger, decision.Component, ex);
            }
        }

        Decided?.Invoke(this, decision);
        return decision;
    }

    private async Task RenewAsync(ILease lease, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(_options.LeaseDuration / 3, _time, cancellationToken).ConfigureAwait(false);
            if (!await lease.RenewAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private IFailoverStrategy Strategy(string component) =>
        _strategies.TryGetValue(component ?? throw new ArgumentNullException(nameof(component)), out var strategy)
            ? strategy
            : throw new ArgumentException($"No failover strategy is named '{component}'. Registered: {string.Join(", ", _strategies.Keys.Order(StringComparer.Ordinal))}.", nameof(component));
}
