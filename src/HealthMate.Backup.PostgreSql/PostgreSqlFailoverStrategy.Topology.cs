using System.Diagnostics;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.PostgreSql;

/// <content>The recorded topology: which server is the primary, on which timeline, kept in the store across restarts.</content>
public sealed partial class PostgreSqlFailoverStrategy
{
    private readonly IFailoverTopologyStore? _topology;
    private long _timeline;
    private long _recordedToken = -1;
    private int _topologyLoaded;
    private string? _topologyError;

    /// <summary>Gets the timeline of the primary this strategy follows (0 until seen or read from the record).</summary>
    internal long KnownTimeline
    {
        get
        {
            lock (_gate)
            {
                return _timeline;
            }
        }
    }

    /// <summary>
    /// Reads the recorded primary: once at start (a restarted host follows the last failover, not
    /// <see cref="PostgreSqlFailoverOptions.Primary"/>), and again when the current primary fails (another host may
    /// have failed over). A record that cannot be authenticated is reported, and blocks failovers until it is removed.
    /// </summary>
    private async Task LoadTopologyAsync(bool force, CancellationToken cancellationToken)
    {
        if (_topology is null || (!force && Volatile.Read(ref _topologyLoaded) == 1))
        {
            return;
        }

        FailoverTopology? record;
        try
        {
            record = await _topology.ReadAsync(Name, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is BackupFormatException or BackupIntegrityException)
        {
            Volatile.Write(ref _topologyError, $"the topology record of {Name} cannot be trusted ({ex.Message}); remove it once the primary is known");
            return;
        }
        catch (Exception ex) when (ex is StorageException or IOException && !cancellationToken.IsCancellationRequested)
        {
            // Boundary: an unreachable store leaves what this host knows; the next probe reads again.
            return;
        }

        Volatile.Write(ref _topologyError, null);
        Volatile.Write(ref _topologyLoaded, 1);
        if (record is null)
        {
            return;
        }

        var index = IndexOf(record.Primary);
        if (index < 0)
        {
            Volatile.Write(ref _topologyError, $"the recorded primary of {Name}, {record.Primary}, is not one of the configured servers");
            return;
        }

        bool changed;
        lock (_gate)
        {
            if (record.Timeline < _timeline || record.FencingToken <= _recordedToken && _primary == index)
            {
                return;
            }

            _recordedToken = record.FencingToken;
            _timeline = Math.Max(_timeline, record.Timeline);
            changed = _primary != index;
        }

        if (changed)
        {
            Adopt(index, record.Timeline, $"recorded by the failover with fencing token {record.FencingToken} ({record.Reason})");
        }
    }

    /// <summary>Records the new primary under the decider's fencing token (or the next one when called without a lease).</summary>
    private async Task<FailoverStep> RecordTopologyAsync(int index, long timeline, FailoverRequest request, CancellationToken cancellationToken)
    {
        var started = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        var node = _nodes[index];
        if (_topology is null)
        {
            return new FailoverStep("record-topology", started, clock.Elapsed, true, "no topology store: the new primary is known to this process only");
        }

        long token;
        lock (_gate)
        {
            token = request.FencingToken ?? _recordedToken + 1;
        }

        var record = new FailoverTopology(Name, Address(node), timeline, token, _time.GetUtcNow(), request.Reason);
        try
        {
            if (await _topology.WriteAsync(record, cancellationToken).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    _recordedToken = Math.Max(_recordedToken, token);
                }

                return new FailoverStep("record-topology", started, clock.Elapsed, true, $"recorded {Address(node)} on timeline {timeline} as the primary (fencing token {token})");
            }

            return new FailoverStep("record-topology", started, clock.Elapsed, false, $"a topology record with fencing token {token} or higher exists: another decider failed {Name} over after this one was replaced");
        }
        catch (Exception ex) when (ex is StorageException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return new FailoverStep("record-topology", started, clock.Elapsed, false, $"the new primary could not be recorded ({ex.Message}); other hosts find it by its timeline");
        }
    }

    private int IndexOf(string address)
    {
        for (var i = 0; i < _nodes.Count; i++)
        {
            if (string.Equals(Address(_nodes[i]), address, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    private static string Address(PostgreSqlConnectionOptions node) => $"{node.Host}:{node.Port}";
}
