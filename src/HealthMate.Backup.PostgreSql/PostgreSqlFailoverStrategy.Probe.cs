using System.Diagnostics;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;

namespace HealthMate.Backup.PostgreSql;

/// <content>The probe: is there a writable primary, and has a replaced primary come back.</content>
public sealed partial class PostgreSqlFailoverStrategy
{
    /// <inheritdoc />
    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        await LoadTopologyAsync(force: false, cancellationToken).ConfigureAwait(false);
        var current = CurrentIndex();
        if (await ProbePrimaryAsync(current, data, cancellationToken).ConfigureAwait(false) is { } healthy)
        {
            return healthy with { Duration = clock.Elapsed };
        }

        // The primary does not answer as one: another host may have failed over (read the record again), and every other
        // server is asked what it is (the WAL receivers' state feeds the isolation rule).
        var findings = new List<string> { (string)data["finding"] };
        data.Remove("finding");
        await LoadTopologyAsync(force: true, cancellationToken).ConfigureAwait(false);
        if (CurrentIndex() != current && await ProbePrimaryAsync(CurrentIndex(), data, cancellationToken).ConfigureAwait(false) is { } recorded)
        {
            return recorded with { Duration = clock.Elapsed };
        }

        current = CurrentIndex();
        (int Index, PrimaryState State)? newest = null;
        foreach (var index in Enumerable.Range(0, _nodes.Count).Where(i => i != current))
        {
            var node = _nodes[index];
            try
            {
                var state = await ReadNodeStateAsync(node, cancellationToken, _options.ProbeConnectTimeout).ConfigureAwait(false);
                if (state.Primary is not { } primary)
                {
                    NoteReceiver(index, state.ReceiverStreaming);
                    findings.Add($"{node}: standby, {(state.ReceiverStreaming ? "streaming from a primary" : $"its WAL receiver has no primary ({ReceiverLostFor(index)?.TotalSeconds:0.0} s)")}");
                }
                else if (primary.Fenced)
                {
                    findings.Add($"{node}: fenced old primary");
                }
                else if (primary.Timeline <= KnownTimeline)
                {
                    // A primary on a timeline no newer than the one followed: an old primary back up, never adopted.
                    findings.Add($"{node}: a primary on timeline {primary.Timeline}, not newer than the followed timeline {KnownTimeline}: an old primary, not adopted");
                    lock (_gate)
                    {
                        _formerPrimaries.Add(index);
                        _formerCheckedAt = DateTimeOffset.MinValue;
                    }
                }
                else if (newest is null || primary.Timeline > newest.Value.State.Timeline)
                {
                    newest = (index, primary);
                }
            }
            catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
            {
                findings.Add($"{node}: {(RefusesLogins(ex) ? "refuses logins (fenced)" : Describe(ex))}");
            }
        }

        if (newest is { } promoted)
        {
            // Promoted by another host (or by hand): its timeline is newer than any this host followed.
            Adopt(promoted.Index, promoted.State.Timeline, $"{_nodes[promoted.Index]} is the writable primary on the newer timeline {promoted.State.Timeline} (found by the probe)");
            if (await ProbePrimaryAsync(promoted.Index, data, cancellationToken).ConfigureAwait(false) is { } adopted)
            {
                return adopted with { Duration = clock.Elapsed };
            }
        }

        WatchFormerPrimaries();
        return new ProbeResult(ProbeStatus.Unhealthy, $"no writable primary: {string.Join("; ", findings)}", clock.Elapsed, data);
    }

    /// <summary>Probes one server as the primary; <see langword="null"/> (and <c>data["finding"]</c>) when it is not a usable one.</summary>
    private async Task<ProbeResult?> ProbePrimaryAsync(int index, Dictionary<string, object> data, CancellationToken cancellationToken)
    {
        var node = _nodes[index];
        PrimaryState state;
        try
        {
            var read = await ReadNodeStateAsync(node, cancellationToken, _options.ProbeConnectTimeout).ConfigureAwait(false);
            if (read.Primary is null)
            {
                data["finding"] = $"{node}: standby";
                return null;
            }

            state = read.Primary;
        }
        catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
        {
            data["finding"] = $"{node}: {(RefusesLogins(ex) ? "refuses logins (fenced)" : Describe(ex))}";
            return null;
        }

        if (state.Fenced)
        {
            data["finding"] = $"{node}: fenced old primary";
            return null;
        }

        Observe(index, state);
        lock (_gate)
        {
            _timeline = Math.Max(_timeline, state.Timeline);
            Array.Clear(_receiverLostSince);
        }

        data["primary"] = node.ToString();
        data["wal_lsn"] = FormatLsn(state.Lsn);
        data["timeline"] = state.Timeline;
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

        if (Volatile.Read(ref _topologyError) is { } untrusted)
        {
            data["topology"] = untrusted;
        }

        // Read-only by an operator's setting is maintenance: up, degraded, never "down" (so never failed over).
        var degraded = state.Replicas.Count == 0 && _nodes.Count > 1 || splitBrain is not null || state.ReadOnly || data.ContainsKey("topology");
        return new ProbeResult(degraded ? ProbeStatus.Degraded : ProbeStatus.Healthy,
            $"primary {node} {(state.ReadOnly ? "is up but read-only (default_transaction_read_only = on: maintenance?)" : "takes writes")}; {replicas}{(splitBrain is null ? string.Empty : "; " + splitBrain)}", TimeSpan.Zero, data);
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
                state = (await ReadNodeStateAsync(node, CancellationToken.None, _options.ConnectTimeout).ConfigureAwait(false)).Primary;
            }
            catch (Exception ex) when (IsConnectionFailure(ex, CancellationToken.None))
            {
                if (RefusesLogins(ex))
                {
                    findings.Add($"replaced primary {node} is up again, fenced (it refuses logins); rebuild it as a standby");
                }

                continue; // still down, or fenced
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

            var (fence, outcome, _) = await FenceCoreAsync(index, new FailoverRequest { Reason = "a replaced primary came back as a primary" }, CancellationToken.None).ConfigureAwait(false);
            findings.Add(outcome == FencingOutcome.Fenced
                ? $"replaced primary {node} came back as a primary and was fenced; rebuild it as a standby"
                : $"SPLIT BRAIN: replaced primary {node} came back as a primary and could not be fenced ({fence.Detail}); stop it now");
        }

        Volatile.Write(ref _splitBrain, findings.Count == 0 ? null : string.Join("; ", findings));
    }
}
