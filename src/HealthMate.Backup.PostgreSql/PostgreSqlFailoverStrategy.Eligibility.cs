using HealthMate.Backup.Failover;

namespace HealthMate.Backup.PostgreSql;

/// <content>Which standby may be promoted, and why not.</content>
public sealed partial class PostgreSqlFailoverStrategy
{
    private async Task<(FailoverCheck Check, Candidate? Candidate)> CheckCoreAsync(FailoverRequest request, CancellationToken cancellationToken)
    {
        var budget = request.RpoBudget ?? _options.RpoBudget;
        var primaryIndex = CurrentIndex();
        var primary = _nodes[primaryIndex];
        var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["primary"] = primary.ToString(), ["rpo_budget_seconds"] = budget.TotalSeconds };

        // The primary's live position, if it answers; else the last one the probe saw.
        PrimaryState? live = null;
        try
        {
            live = await ReadPrimaryStateAsync(primary, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
            if (live is { Fenced: false })
            {
                Observe(primaryIndex, live);
            }
        }
        catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
        {
            data["primary_error"] = Describe(ex);
        }

        var known = live is { Fenced: false } ? new Observation(primaryIndex, _time.GetUtcNow(), live) : Observed(primaryIndex);
        data["primary_reachable"] = live is not null;
        var refusals = new List<string>();
        Candidate? best = null;
        foreach (var index in Enumerable.Range(0, _nodes.Count).Where(i => i != primaryIndex))
        {
            var node = _nodes[index];
            StandbyState standby;
            try
            {
                standby = await ReadStandbyStateAsync(node, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
            {
                refusals.Add($"{node} is unreachable: {Describe(ex)}");
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
            TimeSpan? lag = missing switch { 0 => TimeSpan.Zero, null => null, _ => age };
            if (lag is null)
            {
                refusals.Add(known is null
                    ? $"{node}: the primary's WAL position was never seen, so how much {node} lacks is unknown"
                    : $"{node} lacks {missing} WAL bytes and has replayed no commit, so its lag is unknown");
                continue;
            }

            if (lag > budget)
            {
                refusals.Add($"{node} lacks {missing} WAL bytes of the primary's; its newest replayed commit is {lag.Value.TotalSeconds:0.#} s old, over the RPO budget of {budget.TotalSeconds:0.#} s");
                continue;
            }

            var app = standby.ApplicationName;
            var sync = known?.State.Replicas.GetValueOrDefault(app);
            var synchronous = known is not null && !string.IsNullOrEmpty(known.State.SynchronousNames);
            if (synchronous && sync is not ("sync" or "quorum"))
            {
                refusals.Add($"the primary commits synchronously (synchronous_standby_names = '{known!.State.SynchronousNames}'), but {node} ({app}) was last seen '{sync ?? "not streaming"}' at {known.At:HH:mm:ss.fff}: it may miss acknowledged commits");
                continue;
            }

            if (_options.RequireSynchronous && !synchronous)
            {
                refusals.Add(known is null
                    ? $"synchronous replication is required but the primary was never seen"
                    : $"synchronous replication is required but the primary does not commit synchronously (synchronous_standby_names is empty)");
                continue;
            }

            var candidate = new Candidate(index, received, lag.Value, age, sync);
            if (best is null || candidate.Received > best.Received)
            {
                best = candidate;
            }
        }

        if (best is null)
        {
            return (new FailoverCheck(false, $"no standby is eligible: {string.Join("; ", refusals)}", data), null);
        }

        var chosen = _nodes[best.Index];
        data["candidate"] = chosen.ToString();
        data["lag_seconds"] = best.Lag.TotalSeconds;
        data["sync_state"] = best.SyncState ?? "unknown";
        return (new FailoverCheck(true, $"{chosen} is eligible: lag {best.Lag.TotalSeconds:0.###} s within {budget.TotalSeconds:0.#} s{(best.SyncState is null ? string.Empty : $", {best.SyncState} standby")}{(refusals.Count == 0 ? string.Empty : $" (others: {string.Join("; ", refusals)})")}", data), best);
    }

    private sealed record Candidate(int Index, long Received, TimeSpan Lag, TimeSpan? ReplayAge, string? SyncState);
}
