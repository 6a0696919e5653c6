using System.Diagnostics;
using System.Globalization;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using Npgsql;

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
public sealed class PostgreSqlFailoverStrategy : IFencingFailoverStrategy, IHealthProbe
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
    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var current = CurrentIndex();
        var findings = new List<string>();
        foreach (var index in Enumerable.Range(0, _nodes.Count).OrderBy(i => i == current ? 0 : 1))
        {
            var node = _nodes[index];
            try
            {
                var state = await ReadPrimaryStateAsync(node, cancellationToken, _options.ProbeConnectTimeout).ConfigureAwait(false);
                if (state is null)
                {
                    findings.Add($"{node}: standby");
                    continue;
                }

                if (state.Fenced)
                {
                    findings.Add($"{node}: fenced old primary");
                    continue;
                }

                Observe(index, state);
                if (index != current)
                {
                    Adopt(index, $"{node} is the writable primary (found by the probe)");
                }

                data["primary"] = node.ToString();
                data["wal_lsn"] = Lsn(state.Lsn);
                data["synchronous_standby_names"] = state.SynchronousNames;
                foreach (var (app, sync) in state.Replicas)
                {
                    data[$"replica.{app}"] = sync;
                }

                var replicas = state.Replicas.Count == 0 ? "no standby streaming" : string.Join(", ", state.Replicas.Select(r => $"{r.Key} {r.Value}"));
                WatchFormerPrimaries();
                var splitBrain = Volatile.Read(ref _splitBrain);
                if (splitBrain is not null)
                {
                    data["split_brain"] = splitBrain;
                }

                return new ProbeResult(state.Replicas.Count == 0 && _nodes.Count > 1 || splitBrain is not null ? ProbeStatus.Degraded : ProbeStatus.Healthy,
                    $"primary {node} takes writes; {replicas}{(splitBrain is null ? string.Empty : "; " + splitBrain)}", clock.Elapsed, data);
            }
            catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
            {
                findings.Add($"{node}: {Describe(ex)}");
            }
        }

        return new ProbeResult(ProbeStatus.Unhealthy, $"no writable primary: {string.Join("; ", findings)}", clock.Elapsed, data);
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
        data["replayed_lsn"] = Lsn(replayed);
        if (reference is { } known)
        {
            data["old_primary_lsn"] = Lsn(known);
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

    /// <summary>
    /// Points the other standbys at the new primary: their <c>primary_conninfo</c> keeps its user, password and options,
    /// with the new primary's host and port (<c>ALTER SYSTEM</c>, reload; the WAL receiver reconnects and follows the new
    /// timeline, <c>recovery_target_timeline = latest</c> being the default). Runs after the new primary takes writes, so
    /// it never delays the recovery; a standby that cannot be re-pointed is named in the step.
    /// </summary>
    private async Task<FailoverStep> RepointStandbysAsync(int newPrimary, int oldPrimary, CancellationToken cancellationToken)
    {
        var started = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        var target = _nodes[newPrimary];
        var done = new List<string>();
        var failed = new List<string>();
        foreach (var index in Enumerable.Range(0, _nodes.Count).Where(i => i != newPrimary && i != oldPrimary))
        {
            var node = _nodes[index];
            try
            {
                var db = await OpenAsync(node, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
                await using (db.ConfigureAwait(false))
                {
                    if (!await db.ScalarAsync<bool>("SELECT pg_is_in_recovery()", cancellationToken).ConfigureAwait(false))
                    {
                        failed.Add($"{node} is not a standby");
                        continue;
                    }

                    var conninfo = await db.ScalarAsync<string>("SELECT current_setting('primary_conninfo')", cancellationToken).ConfigureAwait(false);
                    var repointed = ConnInfo.WithHost(conninfo, target.Host, target.Port);
                    await db.ExecuteAsync($"ALTER SYSTEM SET primary_conninfo = {ConnInfo.SqlLiteral(repointed)}; SELECT pg_reload_conf();", cancellationToken).ConfigureAwait(false);
                    done.Add(node.ToString());
                }
            }
            catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
            {
                failed.Add($"{node}: {Describe(ex)}");
            }
        }

        var detail = $"{(done.Count == 0 ? "no other standby re-pointed" : $"re-pointed {string.Join(", ", done)} at {target.Host}:{target.Port}")}{(failed.Count == 0 ? string.Empty : $"; not re-pointed: {string.Join("; ", failed)}")}";
        return new FailoverStep("re-point-standbys", started, clock.Elapsed, failed.Count == 0, detail);
    }

    /// <summary>Stops a reachable primary taking writes; returns its WAL position after the fence.</summary>
    private async Task<(FailoverStep Step, FencingOutcome Outcome, long? Lsn)> FenceCoreAsync(int index, CancellationToken cancellationToken)
    {
        var node = _nodes[index];
        var started = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        NpgsqlConnection db;
        try
        {
            db = await OpenAsync(node, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
        {
            return (new FailoverStep("fence", started, clock.Elapsed, true, $"old primary {node} is unreachable ({Describe(ex)}): not fenced; it must not be started again as a primary (rebuild it as a standby)"), FencingOutcome.Unreachable, null);
        }

        await using (db.ConfigureAwait(false))
        {
            try
            {
                if (await db.ScalarAsync<bool>("SELECT pg_is_in_recovery()", cancellationToken).ConfigureAwait(false))
                {
                    return (new FailoverStep("fence", started, clock.Elapsed, true, $"{node} is in recovery: nothing to fence"), FencingOutcome.NotAttempted, null);
                }

                await db.ExecuteAsync($"""
                    ALTER SYSTEM SET default_transaction_read_only = on;
                    ALTER SYSTEM SET synchronous_standby_names = '{PostgreSqlFailoverOptions.FencedStandbyName}';
                    ALTER SYSTEM SET synchronous_commit = 'on';
                    SELECT pg_reload_conf();
                    """, cancellationToken).ConfigureAwait(false);

                // New sessions are forked with the postmaster's settings: wait until it has reloaded, then end every
                // session started before (their commits would otherwise still be acknowledged).
                var deadline = Stopwatch.StartNew();
                while (!await IsFencedAsync(node, cancellationToken).ConfigureAwait(false))
                {
                    if (deadline.Elapsed > _options.ConnectTimeout * 5)
                    {
                        throw new TimeoutException("the server did not reload its configuration");
                    }

                    await Task.Delay(10, cancellationToken).ConfigureAwait(false);
                }

                var ended = await db.ScalarAsync<long>("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()", cancellationToken).ConfigureAwait(false);
                var lsn = await db.ScalarAsync<long>("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint", cancellationToken).ConfigureAwait(false);
                return (new FailoverStep("fence", started, clock.Elapsed, true,
                    $"old primary {node} fenced: read-only by default, no commit acknowledged (synchronous_standby_names = '{PostgreSqlFailoverOptions.FencedStandbyName}'), {ended} session(s) ended; its WAL ends at {Lsn(lsn)}"), FencingOutcome.Fenced, lsn);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
            {
                return (new FailoverStep("fence", started, clock.Elapsed, false, $"{node} answers but could not be fenced: {Describe(ex)}"), FencingOutcome.Failed, null);
            }
        }
    }

    private async Task<bool> IsFencedAsync(PostgreSqlConnectionOptions node, CancellationToken cancellationToken)
    {
        var probe = await OpenAsync(node, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
        await using (probe.ConfigureAwait(false))
        {
            return await probe.ScalarAsync<string>("SELECT current_setting('synchronous_standby_names')", cancellationToken).ConfigureAwait(false) == PostgreSqlFailoverOptions.FencedStandbyName;
        }
    }

    private async Task<FailoverStep> CatchUpAsync(PostgreSqlConnectionOptions target, long lsn, CancellationToken cancellationToken)
    {
        var started = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        var db = await OpenAsync(target, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            while (true)
            {
                var received = await db.ScalarAsync<long>("SELECT (greatest(coalesce(pg_last_wal_receive_lsn(), '0/0'), pg_last_wal_replay_lsn()) - '0/0'::pg_lsn)::bigint", cancellationToken).ConfigureAwait(false);
                if (received >= lsn)
                {
                    return new FailoverStep("catch-up", started, clock.Elapsed, true, $"{target} received the fenced primary's WAL up to {Lsn(lsn)}");
                }

                if (clock.Elapsed > _options.CatchUpTimeout)
                {
                    return new FailoverStep("catch-up", started, clock.Elapsed, false, $"{target} received only up to {Lsn(received)} of {Lsn(lsn)} within {_options.CatchUpTimeout.TotalSeconds:0.#} s; promoting anyway");
                }

                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Promotes and waits until the server assigns a transaction id; returns the last replayed position and when it became writable.</summary>
    private async Task<(long Replayed, DateTimeOffset WritableAt)> PromoteAsync(PostgreSqlConnectionOptions target, CancellationToken cancellationToken)
    {
        var db = await OpenAsync(target, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            await db.ScalarAsync<bool>("SELECT pg_promote(false)", cancellationToken).ConfigureAwait(false);
            var clock = Stopwatch.StartNew();
            while (await db.ScalarAsync<bool>("SELECT pg_is_in_recovery()", cancellationToken).ConfigureAwait(false))
            {
                if (clock.Elapsed > _options.PromoteTimeout)
                {
                    throw new TimeoutException($"{target} was asked to promote but is still in recovery after {_options.PromoteTimeout.TotalSeconds:0} s.");
                }

                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }

            await db.ExecuteAsync("BEGIN; SELECT pg_current_xact_id(); ROLLBACK;", cancellationToken).ConfigureAwait(false);
            var writableAt = _time.GetUtcNow();
            var replayed = await db.ScalarAsync<long>("SELECT (coalesce(pg_last_wal_replay_lsn(), '0/0') - '0/0'::pg_lsn)::bigint", cancellationToken).ConfigureAwait(false);
            return (replayed, writableAt);
        }
    }

    private async Task<PrimaryState?> ReadPrimaryStateAsync(PostgreSqlConnectionOptions node, CancellationToken cancellationToken, TimeSpan? connectTimeout)
    {
        var db = await OpenAsync(node, cancellationToken, connectTimeout).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand("""
                SELECT pg_is_in_recovery(),
                       CASE WHEN pg_is_in_recovery() THEN 0 ELSE (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint END,
                       current_setting('synchronous_standby_names'),
                       current_setting('default_transaction_read_only') = 'on',
                       coalesce((SELECT string_agg(application_name || '=' || sync_state, ',') FROM pg_stat_replication WHERE state = 'streaming'), '')
                """, db);
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    if (reader.GetBoolean(0))
                    {
                        return null;
                    }

                    var names = reader.GetString(2);
                    var replicas = reader.GetString(4).Split(',', StringSplitOptions.RemoveEmptyEntries)
                        .Select(p => p.Split('=', 2)).GroupBy(p => p[0], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal);
                    return new PrimaryState(reader.GetInt64(1), names, replicas, reader.GetBoolean(3) || names == PostgreSqlFailoverOptions.FencedStandbyName);
                }
            }
        }
    }

    private async Task<StandbyState> ReadStandbyStateAsync(PostgreSqlConnectionOptions node, CancellationToken cancellationToken)
    {
        var db = await OpenAsync(node, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand("""
                SELECT pg_is_in_recovery(),
                       (pg_last_wal_receive_lsn() - '0/0'::pg_lsn)::bigint,
                       (coalesce(pg_last_wal_replay_lsn(), '0/0') - '0/0'::pg_lsn)::bigint,
                       pg_last_xact_replay_timestamp(),
                       CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE 'not paused' END,
                       coalesce((SELECT substring(conninfo FROM 'application_name=([^ ]+)') FROM pg_stat_wal_receiver),
                                nullif(current_setting('cluster_name'), ''), 'walreceiver')
                """, db);
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    return new StandbyState(
                        reader.GetBoolean(0),
                        reader.IsDBNull(1) ? null : reader.GetInt64(1),
                        reader.GetInt64(2),
                        reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3),
                        reader.GetString(4),
                        reader.GetString(5));
                }
            }
        }
    }

    private static async Task<NpgsqlConnection> OpenAsync(PostgreSqlConnectionOptions node, CancellationToken cancellationToken, TimeSpan? connectTimeout)
    {
        var db = node.OpenConnection(node.MaintenanceDatabase, connectTimeout is { } limit ? Math.Clamp((int)Math.Ceiling(limit.TotalSeconds), 1, node.ConnectTimeoutSeconds) : null);
        try
        {
            if (connectTimeout is { } timeout)
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(timeout);
                try
                {
                    await db.OpenAsync(deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"no answer within {timeout.TotalSeconds:0.#} s");
                }
            }
            else
            {
                await db.OpenAsync(cancellationToken).ConfigureAwait(false);
            }

            return db;
        }
        catch
        {
            await db.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static bool IsConnectionFailure(Exception ex, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested && ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException or InvalidOperationException;

    /// <summary>Npgsql's message names the server and the problem, never the password.</summary>
    private static string Describe(Exception ex) => ex is PostgresException pg ? $"{pg.SqlState}: {pg.MessageText}" : ex.InnerException is System.Net.Sockets.SocketException socket ? socket.SocketErrorCode.ToString() : ex.Message;

    private static string Lsn(long lsn) => $"{(ulong)lsn >> 32:X}/{(ulong)lsn & 0xFFFFFFFF:X}";

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

    /// <summary>
    /// A primary replaced while it was unreachable was not fenced; if someone starts it again it comes back as a primary
    /// (two primaries). Every few seconds, off the probe's path, the replaced primaries are asked: one that answers as a
    /// writable primary is fenced at once, and the probe reports it until it is rebuilt as a standby.
    /// </summary>
    private void WatchFormerPrimaries()
    {
        lock (_gate)
        {
            if (_formerPrimaries.Count == 0 || _time.GetUtcNow() - _formerCheckedAt < FormerPrimaryCheckInterval)
            {
                return;
            }

            _formerCheckedAt = _time.GetUtcNow();
        }

        if (Interlocked.CompareExchange(ref _formerCheckRunning, 1, 0) == 0)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await CheckFormerPrimariesAsync().ConfigureAwait(false);
                }
                finally
                {
                    Volatile.Write(ref _formerCheckRunning, 0);
                }
            });
        }
    }

    private async Task CheckFormerPrimariesAsync()
    {
        int[] formers;
        lock (_gate)
        {
            formers = [.. _formerPrimaries.Where(i => i != _primary)];
        }

        var findings = new List<string>();
        foreach (var index in formers)
        {
            var node = _nodes[index];
            PrimaryState? state;
            try
            {
                state = await ReadPrimaryStateAsync(node, CancellationToken.None, _options.ConnectTimeout).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsConnectionFailure(ex, CancellationToken.None))
            {
                continue; // still down
            }

            if (state is null)
            {
                lock (_gate)
                {
                    _formerPrimaries.Remove(index); // rebuilt as a standby: a candidate again
                }

                continue;
            }

            if (state.Fenced)
            {
                findings.Add($"replaced primary {node} is up again, fenced; rebuild it as a standby");
                continue;
            }

            var (fence, outcome, _) = await FenceCoreAsync(index, CancellationToken.None).ConfigureAwait(false);
            findings.Add(outcome == FencingOutcome.Fenced
                ? $"replaced primary {node} came back as a primary and was fenced; rebuild it as a standby"
                : $"SPLIT BRAIN: replaced primary {node} came back as a primary and could not be fenced ({fence.Detail}); stop it now");
        }

        Volatile.Write(ref _splitBrain, findings.Count == 0 ? null : string.Join("; ", findings));
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

    private sealed record PrimaryState(long Lsn, string SynchronousNames, IReadOnlyDictionary<string, string> Replicas, bool Fenced);

    private sealed record StandbyState(bool InRecovery, long? ReceivedLsn, long ReplayedLsn, DateTimeOffset? ReplayTimestamp, string PauseState, string ApplicationName);

    private sealed record Observation(int Index, DateTimeOffset At, PrimaryState State);

    private sealed record Candidate(int Index, long Received, TimeSpan Lag, TimeSpan? ReplayAge, string? SyncState);
}
