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
                data["wal_lsn"] = FormatLsn(state.Lsn);
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
}
