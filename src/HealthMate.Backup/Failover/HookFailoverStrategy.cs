using HealthMate.Backup.Hooks;

namespace HealthMate.Backup.Failover;

/// <summary>
/// Fails a component over through the host's own tooling: an HTTP webhook or a command (restart instances, switch a
/// load-balancer pool, update DNS), each with a timeout and an expected status or exit code. An optional check hook
/// is asked first; the failover hook is told the reason, whether it is a drill, and the decider's fencing token.
/// </summary>
public sealed class HookFailoverStrategy : IFailoverStrategy
{
    private readonly HookOptions _failOver;
    private readonly HookOptions? _check;
    private readonly TimeProvider _time;

    /// <summary>Initializes a new instance of the <see cref="HookFailoverStrategy"/> class.</summary>
    /// <param name="name">The component.</param>
    /// <param name="failOver">The hook that fails over.</param>
    /// <param name="check">A hook asked before, or <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock, or <see langword="null"/> for the system clock.</param>
    public HookFailoverStrategy(string name, HookOptions failOver, HookOptions? check = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(failOver);
        var problems = failOver.Validate("failOver").Concat(check?.Validate("check") ?? []).ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(failOver));
        }

        Name = name;
        _failOver = failOver;
        _check = check;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public async Task<FailoverCheck> CheckAsync(FailoverRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_check is null)
        {
            return new FailoverCheck(true, $"no check hook; failover runs {_failOver}", new Dictionary<string, object>());
        }

        var result = await Hook.RunAsync(_check, new HookCall("failover-check", Name, request.Reason, request.IsDrill, request.FencingToken), cancellationToken).ConfigureAwait(false);
        return new FailoverCheck(result.Succeeded, result.Output, new Dictionary<string, object> { ["check_seconds"] = result.Duration.TotalSeconds });
    }

    /// <inheritdoc />
    public async Task<FailoverResult> FailOverAsync(FailoverRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var steps = new List<FailoverStep>();
        if (_check is not null)
        {
            var startedAt = _time.GetUtcNow();
            var check = await CheckAsync(request, cancellationToken).ConfigureAwait(false);
            steps.Add(new FailoverStep("check", startedAt, _time.GetUtcNow() - startedAt, check.CanFailOver, check.Reason));
            if (!check.CanFailOver)
            {
                return new FailoverResult { Succeeded = false, Refused = true, Description = $"check hook refused: {check.Reason}", Steps = steps };
            }
        }

        var hookStarted = _time.GetUtcNow();
        var result = await Hook.RunAsync(_failOver, new HookCall("failover", Name, request.Reason, request.IsDrill, request.FencingToken), cancellationToken).ConfigureAwait(false);
        steps.Add(new FailoverStep("hook", hookStarted, result.Duration, result.Succeeded, result.Output));
        return new FailoverResult
        {
            Succeeded = result.Succeeded,
            Description = result.Output,
            Steps = steps,
            RestoredAt = result.Succeeded ? _time.GetUtcNow() : null,
        };
    }
}
