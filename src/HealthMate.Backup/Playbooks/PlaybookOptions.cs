using HealthMate.Backup.Hooks;

namespace HealthMate.Backup.Playbooks;

/// <summary>What a configured step does.</summary>
public enum PlaybookStepType
{
    /// <summary>Calls <see cref="PlaybookStepOptions.Hook"/> (an HTTP call or a command).</summary>
    Hook = 0,

    /// <summary>Fails <see cref="PlaybookStepOptions.Component"/> over through its strategy (under its lease).</summary>
    Failover = 1,

    /// <summary>Fences <see cref="PlaybookStepOptions.Component"/>'s primary (stops it taking writes).</summary>
    Fence = 2,

    /// <summary>Waits until every probe in <see cref="PlaybookStepOptions.Probes"/> answers healthy or degraded (serving).</summary>
    WaitHealthy = 3,

    /// <summary>Runs the <see cref="IPlaybookStep"/> registered under the key <see cref="PlaybookStepOptions.Service"/>.</summary>
    Service = 4,
}

/// <summary>A step of a playbook written in configuration.</summary>
public sealed class PlaybookStepOptions
{
    /// <summary>Gets or sets the step's name.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>Gets or sets what it does.</summary>
    public PlaybookStepType Type { get; set; }

    /// <summary>Gets or sets the hook (<see cref="PlaybookStepType.Hook"/>).</summary>
    public HookOptions? Hook { get; set; }

    /// <summary>Gets or sets the component (<see cref="PlaybookStepType.Failover"/>, <see cref="PlaybookStepType.Fence"/>).</summary>
    public string? Component { get; set; }

    /// <summary>Gets or sets the probes (<see cref="PlaybookStepType.WaitHealthy"/>).</summary>
    public List<string> Probes { get; set; } = [];

    /// <summary>Gets or sets the registered step's key (<see cref="PlaybookStepType.Service"/>).</summary>
    public string? Service { get; set; }

    /// <summary>Gets or sets how long one attempt may take.</summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets how many times a failed attempt is retried.</summary>
    public int Retries { get; set; }

    /// <summary>Gets or sets the first retry's wait (doubling).</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan Backoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets whether the step waits for a person's approval.</summary>
    public bool RequiresApproval { get; set; }

    /// <summary>Gets or sets a hook that undoes the step if a later one fails.</summary>
    public HookOptions? Compensation { get; set; }
}

/// <summary>One playbook in <c>BackupDR:Playbooks:{name}</c>: a new one (with <see cref="Steps"/>), or settings of a built-in one.</summary>
public sealed class PlaybookOptions
{
    /// <summary>Gets or sets what the scenario is.</summary>
    public string? Description { get; set; }

    /// <summary>Gets or sets the tier whose objectives apply.</summary>
    public string? Tier { get; set; }

    /// <summary>Gets or sets the RTO when no tier is set.</summary>
    public TimeSpan? Rto { get; set; }

    /// <summary>Gets or sets the RPO when no tier is set.</summary>
    public TimeSpan? Rpo { get; set; }

    /// <summary>Gets or sets the steps of a playbook written in configuration (replaces a built-in's steps).</summary>
    public List<PlaybookStepOptions> Steps { get; set; } = [];

    /// <summary>Gets or sets the hooks a built-in playbook calls, by step name (<c>deploy-application</c>,
    /// <c>update-dns</c>, <c>restart-instances</c>, <c>stop-writes</c>, <c>update-connections</c>).</summary>
    public Dictionary<string, HookOptions> Hooks { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Gets or sets the component a built-in playbook fails over (database-failure). Defaults to <c>database</c>.</summary>
    public string? Component { get; set; }

    /// <summary>Gets or sets the probes a built-in playbook verifies; empty means the component's (database-failure)
    /// or every monitored probe but <c>backups</c> (the others).</summary>
    public List<string> Probes { get; set; } = [];

    /// <summary>Gets or sets how long application-failure's last step watches the probes. Defaults to 2 minutes.</summary>
    public TimeSpan? MonitorFor { get; set; }

    /// <summary>Gets or sets per-step timeouts of a built-in playbook, by step name.</summary>
    public Dictionary<string, TimeSpan> Timeouts { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Gets or sets the steps of a built-in playbook that wait for a person's approval.</summary>
    public List<string> RequireApproval { get; set; } = [];
}
