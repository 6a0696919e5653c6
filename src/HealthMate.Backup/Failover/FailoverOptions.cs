using HealthMate.Backup.Hooks;

namespace HealthMate.Backup.Failover;

/// <summary>Where the failover decider's lease comes from.</summary>
public enum FailoverLeaseKind
{
    /// <summary>A lease kept in the backup storage (the default; needs nothing else).</summary>
    Storage = 0,

    /// <summary>The registered <see cref="HealthMate.Backup.Leases.ILeaseProvider"/> (such as <c>AddPostgreSqlLease()</c>).</summary>
    Registered = 1,
}

/// <summary>How one component is failed over.</summary>
public sealed class FailoverComponentOptions
{
    /// <summary>Gets or sets whether the monitor's "down" starts a failover without a person.</summary>
    public bool Automatic { get; set; } = true;

    /// <summary>Gets or sets whether an automatic failover waits for a person's approval (<see cref="IApprovalGate"/>).</summary>
    public bool RequireApproval { get; set; }

    /// <summary>Gets or sets how long an approval may take before the failover counts as rejected.</summary>
    /// <value>The default value is 15 minutes.</value>
    public TimeSpan ApprovalTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Gets or sets the least time between two failovers of the component (across every host: the last one is
    /// read from storage); a failover inside it is refused so a flapping component does not ping-pong.</summary>
    /// <value>The default value is 10 minutes.</value>
    public TimeSpan Cooldown { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Gets or sets the tier whose RPO is the data-loss budget and whose objectives the record is compared with.</summary>
    /// <value>The default value is <c>critical</c>.</value>
    public string? Tier { get; set; } = "critical";

    /// <summary>Gets or sets the monitor probe whose "down" triggers the failover. Defaults to the component's name.</summary>
    public string? Probe { get; set; }

    /// <summary>Gets or sets how often a decision is retried while the component stays down (after a refusal or when
    /// another host held the lease).</summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets a hook that performs the failover (a webhook or command strategy for the application or
    /// load-balancer layer); leave unset for components whose strategy is registered in code (PostgreSQL).</summary>
    public HookOptions? Hook { get; set; }

    /// <summary>Gets or sets an optional hook asked before failing over; anything but its expected answer refuses.</summary>
    public HookOptions? CheckHook { get; set; }
}

/// <summary>The <c>BackupDR:Failover</c> section.</summary>
public sealed class FailoverOptions
{
    /// <summary>Gets or sets per-component settings, by strategy name.</summary>
    public Dictionary<string, FailoverComponentOptions> Components { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Gets or sets where the decider's lease comes from.</summary>
    public FailoverLeaseKind Lease { get; set; }

    /// <summary>Gets or sets how long the decider's lease lasts without renewal.</summary>
    /// <value>The default value is 60 seconds.</value>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Gets a component's settings (the defaults when it has none).</summary>
    /// <param name="component">The strategy's name.</param>
    /// <returns>The settings.</returns>
    public FailoverComponentOptions Resolve(string component) => Components.TryGetValue(component, out var options) ? options : new FailoverComponentOptions();

    internal IEnumerable<string> Validate(IReadOnlyDictionary<string, Health.RecoveryObjective> tiers)
    {
        if (LeaseDuration < TimeSpan.FromSeconds(1))
        {
            yield return "Failover:LeaseDuration must be at least 1 second.";
        }
        else if (Lease == FailoverLeaseKind.Storage && LeaseDuration < TimeSpan.FromSeconds(4))
        {
            yield return "Failover:LeaseDuration must be at least 4 seconds with Lease = Storage (twice the storage lease's 2 s clock-skew margin).";
        }

        foreach (var (name, component) in Components)
        {
            var at = $"Failover:Components:{name}";
            if (!Leases.LeaseNames.IsValid($"failover.{name}"))
            {
                yield return $"{at}: the component name must be lower-case letters, digits, '-' and '.'.";
            }

            if (component.Cooldown < TimeSpan.Zero || component.ApprovalTimeout <= TimeSpan.Zero || component.RetryInterval <= TimeSpan.Zero)
            {
                yield return $"{at}: Cooldown must not be negative; ApprovalTimeout and RetryInterval must be positive.";
            }

            if (component.Tier is { } tier && !tiers.ContainsKey(tier))
            {
                yield return $"{at}:Tier '{tier}' is not one of Objectives:Tiers ({string.Join(", ", tiers.Keys)}).";
            }

            foreach (var problem in (component.Hook?.Validate($"{at}:Hook") ?? []).Concat(component.CheckHook?.Validate($"{at}:CheckHook") ?? []))
            {
                yield return problem;
            }
        }
    }
}
