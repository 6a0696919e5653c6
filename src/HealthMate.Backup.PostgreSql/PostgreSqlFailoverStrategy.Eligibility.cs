using System.Diagnostics;
using HealthMate.Backup.Failover;

namespace HealthMate.Backup.PostgreSql;

/// <content>Whether the primary may be replaced now, by which standby, and why not.</content>
public sealed partial class PostgreSqlFailoverStrategy
{
    /// <summary>What the old primary is, as the decision sees it.</summary>
    private enum PrimaryCondition
    {
        /// <summary>It answers and takes writes.</summary>
        Writable,

        /// <summary>It answers, read-only by an operator's setting (maintenance), not fenced by us.</summary>
        ReadOnly,

        /// <summary>It answers fenced by us, or refuses logins (our fence closed its databases).</summary>
        Fenced,

        /// <summary>It answers in recovery: it cannot take writes.</summary>
        InRecovery,

        /// <summary>It does not answer this host; isolation not (yet) confirmed.</summary>
        Unreachable,

        /// <summary>It does not answer this host and is confirmed cut off from every observer.</summary>
        Isolated,
    }

    private async Task<(FailoverCheck Check, Candidate? Candidate, PrimaryCondition Condition)> CheckCoreAsync(FailoverRequest request, bool waitForIsolation, CancellationToken cancellationToken)
    {
        var budget = request.RpoBudget ?? _options.RpoBudget;
        var primaryIndex = CurrentIndex();
        var primary = _nodes[primaryIndex];
        var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["primary"] = primary.ToString(), ["rpo_budget_seconds"] = budget.TotalSeconds };
        if (Volatile.Read(ref _topologyError) is { } untrusted)
        {
            return (new FailoverCheck(false, untrusted, data), null, PrimaryCondition.Unreachable);
        }

        // The primary now, never only what the probe last saw.
        PrimaryState? live = null;
        PrimaryCondition condition;
        try
        {
            var state = await ReadNodeStateAsync(primary, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
            live = state.Primary;
            condition = live is null ? PrimaryCondition.InRecovery : live.Fenced ? PrimaryCondition.Fenced : live.ReadOnly ? PrimaryCondition.ReadOnly : PrimaryCondition.Writable;
            if (live is { Fenced: false })
            {
                Observe(primaryIndex, live);
            }
        }
        catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
        {
            condition = RefusesLogins(ex) ? PrimaryCondition.Fenced : PrimaryCondition.Unreachable;
            data["primary_error"] = Describe(ex);
        }

        data["primary_reachable"] = condition != PrimaryCondition.Unreachable;
        if (condition is PrimaryCondition.Writable or PrimaryCondition.ReadOnly && !request.Manual)
        {
            data["primary_condition"] = Label(condition);
            var what = condition == PrimaryCondition.ReadOnly ? "is up, read-only by its settings (maintenance, not a failure)" : "takes writes";
            return (new FailoverCheck(false, $"the primary {primary} answers and {what}: an automatic failover never replaces a working primary (a manual failover fences it and switches over)", data), null, condition);
        }

        var known = live is { Fenced: false } ? new Observation(primaryIndex, _time.GetUtcNow(), live) : Observed(primaryIndex);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var standbys = await ReadStandbysAsync(primaryIndex, cancellationToken).ConfigureAwait(false);
            var (best, refusals) = Choose(standbys, known, budget, condition);
            if (condition != PrimaryCondition.Unreachable || best is null)
            {
                return Answer(best, refusals, condition, data);
            }

            var isolation = await AssessIsolationAsync(primaryIndex, standbys, best, cancellationToken).ConfigureAwait(false);
            data["observers"] = isolation.Observers;
            if (isolation.Confirmed)
            {
                return Answer(best, refusals, PrimaryCondition.Isolated, data);
            }

            if (!waitForIsolation && (_options.FenceHook is not null || isolation.OnlyTimePending))
            {
                // A check that does not wait: the fence hook will settle it, or only the isolation time is still running
                // (a failover would wait for it, and refuse if an observer reached the primary meanwhile).
                data["isolation"] = isolation.Reason;
                return Answer(best, refusals, condition, data);
            }

            if (isolation.Contradicted || !waitForIsolation || clock.Elapsed > _options.IsolationTime + (2 * _options.ConnectTimeout))
            {
                data["primary_condition"] = Label(condition);
                return (new FailoverCheck(false, $"the primary {primary} does not answer this host, but {isolation.Reason}", data), null, condition);
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    private (FailoverCheck, Candidate?, PrimaryCondition) Answer(Candidate? best, List<string> refusals, PrimaryCondition condition, Dictionary<string, object> data)
    {
        data["primary_condition"] = Label(condition);
        if (best is null)
        {
            return (new FailoverCheck(false, $"no standby is eligible: {string.Join("; ", refusals)}", data), null, condition);
        }

        var chosen = _nodes[best.Index];
        data["candidate"] = chosen.ToString();
        data["lag_seconds"] = best.Lag.TotalSeconds;
        data["sync_state"] = best.SyncState ?? "unknown";
        var how = condition switch
        {
            PrimaryCondition.Writable or PrimaryCondition.ReadOnly => "the primary answers and will be fenced first",
            PrimaryCondition.Fenced => "the primary is fenced",
            PrimaryCondition.InRecovery => "the old primary is in recovery",
            PrimaryCondition.Isolated => "the primary is confirmed isolated",
            _ when _options.FenceHook is not null => "the primary does not answer and will be fenced by the fence hook",
            _ => $"the primary does not answer; a failover waits until it is confirmed isolated: {data.GetValueOrDefault("isolation")}",
        };
        return (new FailoverCheck(true, $"{chosen} is eligible ({how}): lag {best.Lag.TotalSeconds:0.###} s within the budget{(best.SyncState is null ? string.Empty : $", {best.SyncState} standby")}{(refusals.Count == 0 ? string.Empty : $" (others: {string.Join("; ", refusals)})")}", data), best, condition);
    }

    /// <summary>Reads every standby (all servers but the primary), noting whether each one's WAL receiver streams.</summary>
    private async Task<List<(int Index, StandbyState? State, string? Error)>> ReadStandbysAsync(int primaryIndex, CancellationToken cancellationToken)
    {
        var standbys = new List<(int, StandbyState?, string?)>();
        foreach (var index in Enumerable.Range(0, _nodes.Count).Where(i => i != primaryIndex))
        {
            try
            {
                var state = await ReadStandbyStateAsync(_nodes[index], cancellationToken).ConfigureAwait(false);
                NoteReceiver(index, state.InRecovery && state.ReceiverStreaming);
                standbys.Add((index, state, null));
            }
            catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
            {
                standbys.Add((index, null, Describe(ex)));
            }
        }

        return standbys;
    }

    /// <summary>The eligible standby that received the most, and why each other one is not eligible.</summary>
    private (Candidate? Best, List<string> Refusals) Choose(List<(int Index, StandbyState? State, string? Error)> standbys, Observation? known, TimeSpan budget, PrimaryCondition condition)
    {
        var refusals = new List<string>();
        var synchronous = known is not null && !string.IsNullOrEmpty(known.State.SynchronousNames) && !known.State.Fenced;
        if (synchronous && known!.State.Replicas.Where(r => r.Value == "quorum").Select(r => r.Key).Except(standbys.Where(s => s.State is not null).Select(s => s.State!.ApplicationName), StringComparer.Ordinal).ToList() is { Count: > 0 } unread)
        {
            // A quorum commit is acknowledged once any k standbys have it: only the one that received most of all of
            // them is sure to hold every acknowledged commit, so each of them must be read.
            refusals.Add($"the primary commits to a quorum ({known.State.SynchronousNames}) and quorum standby {string.Join(", ", unread)} cannot be read: it may hold acknowledged commits the others lack");
            return (null, refusals);
        }

        var unfenced = condition is PrimaryCondition.Unreachable or PrimaryCondition.Isolated;

        // A host that never saw the primary (it started after the primary went) does not know its position or whether it
        // committed synchronously. Of standbys that all answer, the one that received most holds every commit any of
        // them acknowledged (synchronous or quorum); what an asynchronous primary committed alone is the exposure.
        var blind = known is null && unfenced;
        if (blind && standbys.Where(s => s.State is null).Select(s => $"{_nodes[s.Index]} ({s.Error})").FirstOrDefault() is { } unread1)
        {
            refusals.Add($"the primary's WAL position was never seen by this host and {unread1} cannot be read: it may hold commits the others lack");
            return (null, refusals);
        }

        Candidate? best = null;
        foreach (var (index, standby, error) in standbys)
        {
            var node = _nodes[index];
            if (standby is null)
            {
                refusals.Add($"{node} is unreachable: {error}");
                continue;
            }

            if (!standby.InRecovery)
            {
                refusals.Add($"{node} is not in recovery (already a primary?)");
                continue;
            }

            if (standby.PauseState != "not paused")
            {
                refusals.Add($"{node}'s WAL replay is {standby.PauseState}");
                continue;
            }

            var received = Math.Max(standby.ReceivedLsn ?? 0, standby.ReplayedLsn);
            var missing = known is null ? (long?)null : Math.Max(0, known.State.Lsn - received);
            var age = standby.ReplayTimestamp is { } at ? _time.GetUtcNow() - at : (TimeSpan?)null;
            TimeSpan? lag = missing switch { 0 => TimeSpan.Zero, null when blind => TimeSpan.Zero, null => null, _ => age };
            if (lag is null)
            {
                refusals.Add(known is null
                    ? $"{node}: the primary's WAL position was never seen, so how much {node} lacks is unknown"
                    : $"{node} lacks {missing} WAL bytes and has replayed no commit, so its lag is unknown");
                continue;
            }

            var app = standby.ApplicationName;
            var sync = known?.State.Replicas.GetValueOrDefault(app);
            if (synchronous && sync is not ("sync" or "quorum"))
            {
                refusals.Add($"the primary commits synchronously (synchronous_standby_names = '{known!.State.SynchronousNames}'), but {node} ({app}) was last seen '{sync ?? "not streaming"}' at {known.At:HH:mm:ss.fff}: it may miss acknowledged commits");
                continue;
            }

            // An unfenced primary with asynchronous standbys may have committed alone since the standby last heard from
            // it (its last position seen is stale): that time, plus how long the receiver takes to notice a silent
            // primary, bounds what is lost.
            TimeSpan? exposure = null;
            if (unfenced && !synchronous)
            {
                exposure = (ReceiverLostFor(index) ?? TimeSpan.Zero) + standby.ReceiverTimeout;
                lag = lag > exposure ? lag : exposure;
            }

            if (lag > budget)
            {
                refusals.Add(exposure is not null && lag == exposure
                    ? $"{node} may lack up to {lag.Value.TotalSeconds:0.#} s of the unfenced primary's commits (asynchronous replication), over the RPO budget of {budget.TotalSeconds:0.#} s"
                    : $"{node} lacks {missing} WAL bytes of the primary's; its newest replayed commit is {lag.Value.TotalSeconds:0.#} s old, over the RPO budget of {budget.TotalSeconds:0.#} s");
                continue;
            }

            if (_options.RequireSynchronous && !synchronous)
            {
                refusals.Add(known is null
                    ? $"synchronous replication is required but the primary was never seen"
                    : $"synchronous replication is required but the primary does not commit synchronously (synchronous_standby_names is empty)");
                continue;
            }

            var candidate = new Candidate(index, received, lag.Value, age, sync, exposure);
            if (best is null || candidate.Received > best.Received)
            {
                best = candidate;
            }
        }

        return (best, refusals);
    }

    /// <summary>What the failover may lose: bytes against the old primary's last known position, and as time.</summary>
    private static (long? Bytes, TimeSpan? Time) DataLossOf(PrimaryCondition condition, long? reference, long replayed, Candidate candidate)
    {
        long? bytes = reference is { } r ? Math.Max(0, r - replayed) : null;
        if (candidate.Exposure is { } exposure)
        {
            return (bytes, exposure);
        }

        if (condition is PrimaryCondition.Isolated or PrimaryCondition.Unreachable && candidate.SyncState is "sync" or "quorum")
        {
            return (bytes, TimeSpan.Zero); // every acknowledged commit is on the synchronous standby
        }

        return (bytes, bytes switch { 0 => TimeSpan.Zero, null => null, _ => candidate.ReplayAge });
    }

    private static string DescribeLoss(PrimaryCondition condition, long? bytes, Candidate candidate) =>
        candidate.Exposure is { } exposure ? $"asynchronous replication: commits the unfenced old primary made in its last {exposure.TotalSeconds:0.#} s at most may be lost{(bytes is > 0 ? $" ({bytes} WAL bytes it was seen to write were not received)" : string.Empty)}"
        : condition is PrimaryCondition.Isolated or PrimaryCondition.Unreachable && candidate.SyncState is "sync" or "quorum" ? "no acknowledged commit lost (synchronous standby)"
        : bytes is null ? "data loss unknown (the old primary's last position was never seen)"
        : $"{bytes} WAL bytes not carried over";

    private static string Label(PrimaryCondition condition) => condition switch
    {
        PrimaryCondition.Writable => "writable",
        PrimaryCondition.ReadOnly => "read-only",
        PrimaryCondition.Fenced => "fenced",
        PrimaryCondition.InRecovery => "in-recovery",
        PrimaryCondition.Isolated => "isolated",
        _ => "unreachable",
    };

    /// <summary>An eligible standby.</summary>
    /// <param name="Index">The server.</param>
    /// <param name="Received">The WAL it received.</param>
    /// <param name="Lag">How much committed data it may lack, as time.</param>
    /// <param name="ReplayAge">How old its newest replayed commit is.</param>
    /// <param name="SyncState">How the primary was last seen replicating to it.</param>
    /// <param name="Exposure">For an unfenced primary with asynchronous replication, how long it may have committed alone.</param>
    private sealed record Candidate(int Index, long Received, TimeSpan Lag, TimeSpan? ReplayAge, string? SyncState, TimeSpan? Exposure);
}
