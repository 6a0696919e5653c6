using System.Diagnostics;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Hooks;

namespace HealthMate.Backup.PostgreSql;

/// <content>Is a primary that this host cannot reach really gone: its standbys' WAL receivers, witnesses, the fence hook.</content>
public sealed partial class PostgreSqlFailoverStrategy
{
    private readonly IReadOnlyList<PostgreSqlConnectionOptions> _witnesses;

    /// <summary>Per server, when (monotonic timestamp) its WAL receiver was first seen without a streaming primary;
    /// <see langword="null"/> while it streams or was not looked at.</summary>
    private readonly long?[] _receiverLostSince;

    private void NoteReceiver(int index, bool streaming)
    {
        lock (_gate)
        {
            if (streaming)
            {
                _receiverLostSince[index] = null;
            }
            else
            {
                _receiverLostSince[index] ??= _time.GetTimestamp();
            }
        }
    }

    private TimeSpan? ReceiverLostFor(int index)
    {
        lock (_gate)
        {
            return _receiverLostSince[index] is { } since ? _time.GetElapsedTime(since) : null;
        }
    }

    /// <summary>
    /// The isolation rule: the observers are this host, every standby (its WAL receiver) and every witness. The primary
    /// counts as isolated only if no observer reaches it, a majority of all observers confirm they cannot, and the chosen
    /// standby's receiver has been without it for <see cref="PostgreSqlFailoverOptions.IsolationTime"/>.
    /// </summary>
    private async Task<Isolation> AssessIsolationAsync(int primaryIndex, List<(int Index, StandbyState? State, string? Error)> standbys, Candidate candidate, CancellationToken cancellationToken)
    {
        var total = 1 + standbys.Count + _witnesses.Count;
        var lost = 1; // this host: the primary did not answer
        var reaches = new List<string>();
        var unknown = 0;
        foreach (var (index, state, _) in standbys)
        {
            if (state is null)
            {
                unknown++;
            }
            else if (state.InRecovery && state.ReceiverStreaming)
            {
                reaches.Add($"{_nodes[index]}'s WAL receiver streams from it");
            }
            else
            {
                lost++;
            }
        }

        foreach (var witness in _witnesses)
        {
            try
            {
                var state = await ReadNodeStateAsync(witness, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
                if (state.Primary is { Fenced: false })
                {
                    reaches.Add($"witness {witness} reaches it as a primary");
                }
                else
                {
                    lost++;
                }
            }
            catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
            {
                lost++;
            }
        }

        var observers = $"{lost} of {total} observers cannot reach the primary, {reaches.Count} can, {unknown} did not answer";
        if (reaches.Count > 0)
        {
            return new Isolation(false, true, false, $"{string.Join(" and ", reaches)}: this host may be cut off from the primary, not the primary from the others; not promoting a second primary (a fence hook would settle it)", observers);
        }

        if (lost * 2 <= total)
        {
            return new Isolation(false, false, false, $"only {lost} of {total} observers confirm it is unreachable ({unknown} did not answer); a majority must", observers);
        }

        var lostFor = ReceiverLostFor(candidate.Index) ?? TimeSpan.Zero;
        if (lostFor < _options.IsolationTime)
        {
            return new Isolation(false, false, true, $"{_nodes[candidate.Index]}'s WAL receiver has been without the primary for {lostFor.TotalSeconds:0.0} s of the {_options.IsolationTime.TotalSeconds:0.#} s required", observers);
        }

        return new Isolation(true, false, false, $"isolated: {observers}; {_nodes[candidate.Index]}'s WAL receiver lost it {lostFor.TotalSeconds:0.0} s ago", observers);
    }

    /// <summary>Runs the fence hook, if configured, against the old primary.</summary>
    private async Task<FailoverStep?> FenceThroughHookAsync(int index, FailoverRequest request, CancellationToken cancellationToken)
    {
        if (_options.FenceHook is not { } hook)
        {
            return null;
        }

        var started = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        var result = await Hook.RunAsync(hook, new HookCall("fence", $"{Name}:{Address(_nodes[index])}", request.Reason, request.IsDrill, request.FencingToken), cancellationToken).ConfigureAwait(false);
        return new FailoverStep("fence", started, clock.Elapsed, result.Succeeded, result.Succeeded
            ? $"old primary {_nodes[index]} fenced by the fence hook: {result.Output}"
            : $"the fence hook failed for {_nodes[index]}: {result.Output}");
    }

    /// <param name="Confirmed">Whether the primary is isolated.</param>
    /// <param name="Contradicted">Whether an observer still reaches it (waiting will not help).</param>
    /// <param name="OnlyTimePending">Whether all but the isolation time is met.</param>
    /// <param name="Reason">Why (not), one line.</param>
    /// <param name="Observers">The observers' count, for the data.</param>
    private sealed record Isolation(bool Confirmed, bool Contradicted, bool OnlyTimePending, string Reason, string Observers);
}
