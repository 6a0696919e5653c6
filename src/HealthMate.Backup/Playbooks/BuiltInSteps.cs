using System.Globalization;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using HealthMate.Backup.Hooks;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Playbooks;

/// <summary>Calls a hook; fails (and may be retried) when it does not give its expected answer.</summary>
internal sealed class HookStep(string name, HookOptions? hook, string configuredAt, bool optional = false) : IPlaybookStep
{
    public string Name => name;

    public string Describe() => hook is null ? (optional ? "nothing (no hook configured)" : $"fail: no hook at {configuredAt}") : $"call {hook}";

    public async Task<PlaybookStepResult> ExecuteAsync(PlaybookStepContext context, CancellationToken cancellationToken)
    {
        if (hook is null)
        {
            return optional ? new PlaybookStepResult("no hook configured; nothing to do") : throw new PlaybookStepFailedException($"no hook is configured at {configuredAt}");
        }

        return new PlaybookStepResult(await CallAsync(name, hook, context, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Calls a step's hook; an unexpected answer throws (and the attempt may be retried).</summary>
    internal static async Task<string> CallAsync(string step, HookOptions hook, PlaybookStepContext context, CancellationToken cancellationToken)
    {
        var result = await Hook.RunAsync(hook, new HookCall(step, context.Playbook, $"playbook {context.Playbook}", context.IsDrill, RunId: context.RunId), cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? result.Output : throw new HookFailedException(result.Output);
    }
}

/// <summary>A hook answered something other than expected (retried like any failed attempt).</summary>
internal sealed class HookFailedException(string message) : Exception(message);

/// <summary>Stops the component's primary taking writes: an optional hook (say, the application's maintenance mode),
/// then the strategy's own fencing if it has one. A reachable primary that cannot be fenced stops the playbook.</summary>
internal sealed class FenceStep(string name, string component, HookOptions? hook) : IPlaybookStep
{
    public string Name => name;

    public string Describe() => $"{(hook is null ? string.Empty : $"call {hook}, then ")}fence {component}'s primary if it is reachable";

    public async Task<PlaybookStepResult> ExecuteAsync(PlaybookStepContext context, CancellationToken cancellationToken)
    {
        var output = new List<string>();
        if (hook is not null)
        {
            output.Add(await HookStep.CallAsync(name, hook, context, cancellationToken).ConfigureAwait(false));
        }

        var strategy = context.Services.GetServices<IFailoverStrategy>().LastOrDefault(s => s.Name == component);
        if (strategy is IFencingFailoverStrategy fencing)
        {
            var fenced = await fencing.FenceAsync(new FailoverRequest { Reason = $"playbook {context.Playbook}", IsDrill = context.IsDrill }, cancellationToken).ConfigureAwait(false);
            if (!fenced.Succeeded)
            {
                throw new PlaybookStepFailedException($"{component}: {fenced.Detail}");
            }

            output.Add(fenced.Detail);
        }
        else
        {
            output.Add($"{component}'s strategy does not fence");
        }

        return new PlaybookStepResult(string.Join("; ", output));
    }
}

/// <summary>Fails a component over through the coordinator (its lease, records and audit). Its precondition asks the
/// strategy whether it can.</summary>
internal sealed class FailoverPlaybookStep(string name, string component) : IPlaybookStep
{
    public string Name => name;

    public string Describe() => $"fail {component} over to its standby (under the failover lease) and re-point clients";

    internal static async Task<string?> CheckAsync(PlaybookStepContext context, string component, CancellationToken cancellationToken)
    {
        var check = await context.Services.GetRequiredService<IFailoverCoordinator>().CheckAsync(component, cancellationToken).ConfigureAwait(false);
        return check.CanFailOver ? null : check.Reason;
    }

    public async Task<PlaybookStepResult> ExecuteAsync(PlaybookStepContext context, CancellationToken cancellationToken)
    {
        var decision = await context.Services.GetRequiredService<IFailoverCoordinator>()
            .FailOverAsync(component, $"playbook {context.Playbook} run {context.RunId}", $"playbook:{context.Playbook}", context.IsDrill, cancellationToken).ConfigureAwait(false);
        if (decision.Outcome != FailoverOutcome.FailedOver)
        {
            throw new PlaybookStepFailedException($"{component} was not failed over ({decision.Outcome}): {decision.Reason}");
        }

        var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["fencing"] = decision.Result!.Fencing.ToString() };
        if (decision.Result.DataLoss is { } loss)
        {
            data[PlaybookStepData.DataLossSeconds] = loss.TotalSeconds;
        }

        if (decision.Result.NewEndpoint is { } endpoint)
        {
            data["endpoint"] = endpoint;
        }

        return new PlaybookStepResult(decision.Reason, data);
    }
}

/// <summary>Waits until every probe answers healthy or degraded (polling), optionally after calling a hook.</summary>
internal sealed class WaitHealthyStep(string name, IReadOnlyList<string>? probes, HookOptions? hook = null) : IPlaybookStep
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    public string Name => name;

    public string Describe() => $"{(hook is null ? string.Empty : $"call {hook}, then ")}wait until {(probes is { Count: > 0 } ? string.Join(", ", probes) : "every monitored probe")} answer(s) healthy or degraded";

    public async Task<PlaybookStepResult> ExecuteAsync(PlaybookStepContext context, CancellationToken cancellationToken)
    {
        var output = new List<string>();
        if (hook is not null)
        {
            output.Add(await HookStep.CallAsync(name, hook, context, cancellationToken).ConfigureAwait(false));
        }

        var pending = Probes.Select(context, probes).ToDictionary(p => p.Name, StringComparer.Ordinal);
        var last = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            while (true)
            {
                foreach (var probe in pending.Values.ToList())
                {
                    var result = await Probes.RunAsync(context, probe, cancellationToken).ConfigureAwait(false);
                    last[probe.Name] = $"{probe.Name}: {result.Status}, {result.Description}";
                    // Degraded still serves (a promoted primary without a standby yet): only unhealthy keeps waiting.
                    if (result.Status != ProbeStatus.Unhealthy)
                    {
                        pending.Remove(probe.Name);
                    }
                }

                if (pending.Count == 0)
                {
                    output.AddRange(last.Values);
                    return new PlaybookStepResult(string.Join("; ", output));
                }

                await Task.Delay(Poll, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException ex)
        {
            throw new OperationCanceledException($"still not healthy: {string.Join("; ", pending.Keys.Select(k => last.GetValueOrDefault(k, k)))}", ex, cancellationToken);
        }
    }
}

/// <summary>Probes everything once and reports which components fail.</summary>
internal sealed class IdentifyFailureStep(string name, IReadOnlyList<string>? probes) : IPlaybookStep
{
    public string Name => name;

    public string Describe() => $"probe {(probes is { Count: > 0 } ? string.Join(", ", probes) : "every monitored probe")} once and name the failing ones";

    public async Task<PlaybookStepResult> ExecuteAsync(PlaybookStepContext context, CancellationToken cancellationToken)
    {
        var failing = new List<string>();
        var healthy = new List<string>();
        foreach (var probe in Probes.Select(context, probes))
        {
            var result = await Probes.RunAsync(context, probe, cancellationToken).ConfigureAwait(false);
            (result.Status == ProbeStatus.Healthy ? healthy : failing).Add($"{probe.Name} ({result.Status}: {result.Description})");
        }

        context.State["failing"] = failing;
        return new PlaybookStepResult($"failing: {(failing.Count == 0 ? "none" : string.Join("; ", failing))}; healthy: {(healthy.Count == 0 ? "none" : string.Join(", ", healthy))}",
            new Dictionary<string, object> { ["failing"] = failing.Count });
    }
}

/// <summary>Watches the probes for a while; two unhealthy answers in a row from one probe fail the step.</summary>
internal sealed class MonitorStep(string name, IReadOnlyList<string>? probes, TimeSpan duration) : IPlaybookStep
{
    public string Name => name;

    public string Describe() => $"watch {(probes is { Count: > 0 } ? string.Join(", ", probes) : "every monitored probe")} for {duration.TotalSeconds:0.#} s";

    public async Task<PlaybookStepResult> ExecuteAsync(PlaybookStepContext context, CancellationToken cancellationToken)
    {
        var list = Probes.Select(context, probes);
        var time = context.Services.GetService<TimeProvider>() ?? TimeProvider.System;
        var until = time.GetUtcNow() + duration;
        var failures = list.ToDictionary(p => p.Name, _ => 0, StringComparer.Ordinal);
        var rounds = 0;
        var slowest = TimeSpan.Zero;
        do
        {
            rounds++;
            foreach (var probe in list)
            {
                var result = await Probes.RunAsync(context, probe, cancellationToken).ConfigureAwait(false);
                slowest = result.Duration > slowest ? result.Duration : slowest;
                failures[probe.Name] = result.Status == ProbeStatus.Unhealthy ? failures[probe.Name] + 1 : 0;
                if (failures[probe.Name] >= 2)
                {
                    throw new PlaybookStepFailedException($"{probe.Name} failed twice in a row while watched: {result.Description}");
                }
            }

            await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken).ConfigureAwait(false);
        }
        while (time.GetUtcNow() < until);
        return new PlaybookStepResult($"{list.Count} probe(s) stayed up for {duration.TotalSeconds:0.#} s ({rounds} rounds, slowest answer {slowest.TotalMilliseconds:0} ms)",
            new Dictionary<string, object> { ["slowest_ms"] = slowest.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) });
    }
}

/// <summary>Runs the step a package or the host registered under a key (<c>restore-database</c>).</summary>
internal sealed class ServiceStep(string name, string key) : IPlaybookStep
{
    public string Name => name;

    public string Describe() => $"run the registered step '{key}'";

    public Task<PlaybookStepResult> ExecuteAsync(PlaybookStepContext context, CancellationToken cancellationToken) =>
        (context.Services.GetKeyedService<IPlaybookStep>(key)
            ?? throw new PlaybookStepFailedException($"no step is registered as '{key}' (for PostgreSQL: AddPostgreSqlRegionRestore(), or services.AddKeyedSingleton<IPlaybookStep>(\"{key}\", ...))"))
        .ExecuteAsync(context, cancellationToken);
}

internal static class Probes
{
    /// <summary>Runs a probe with the deadline the monitor gives it (<c>BackupDR:Monitor</c>), so one hung probe cannot use up a step.</summary>
    internal static Task<ProbeResult> RunAsync(PlaybookStepContext context, IHealthProbe probe, CancellationToken cancellationToken)
    {
        var monitor = context.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<BackupDROptions>>().Value.Monitor;
        return ProbeRunner.RunAsync(probe, monitor.Resolve(probe.Name).Timeout, context.Services.GetService<TimeProvider>() ?? TimeProvider.System, null, cancellationToken);
    }

    /// <summary>The named probes, or every registered probe but the expensive <c>backups</c> one.</summary>
    internal static List<IHealthProbe> Select(PlaybookStepContext context, IReadOnlyList<string>? names)
    {
        var all = context.Services.GetServices<IHealthProbe>().GroupBy(p => p.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        if (names is not { Count: > 0 })
        {
            return [.. all.Values.Where(p => p.Name != BackupHealthProbe.ProbeName).OrderBy(p => p.Name, StringComparer.Ordinal)];
        }

        return [.. names.Select(n => all.TryGetValue(n, out var probe) ? probe : throw new PlaybookStepFailedException($"no probe is named '{n}'; registered: {string.Join(", ", all.Keys.Order(StringComparer.Ordinal))}"))];
    }
}
