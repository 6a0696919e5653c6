namespace HealthMate.Backup.Playbooks;

/// <summary>
/// The product plan's three scenarios, tuned by <c>BackupDR:Playbooks:{name}</c> (hooks, component, probes, timeouts,
/// approvals):
/// <list type="bullet">
/// <item><c>database-failure</c> (critical: RTO 15 min, RPO 5 min): stop writes, promote replica, update connections, verify integrity.</item>
/// <item><c>region-outage</c> (high: RTO 60 min, RPO 15 min): restore the database from the other region's backups, deploy the application, update DNS, verify services.</item>
/// <item><c>application-failure</c> (RTO 30 min, no data at risk): identify the failure, restart instances, verify health, monitor.</item>
/// </list>
/// </summary>
internal static class BuiltInPlaybooks
{
    internal const string DatabaseFailure = "database-failure";
    internal const string RegionOutage = "region-outage";
    internal const string ApplicationFailure = "application-failure";

    internal static IEnumerable<PlaybookDefinition> Create(IReadOnlyDictionary<string, PlaybookOptions> configured)
    {
        yield return Database(configured.GetValueOrDefault(DatabaseFailure) ?? new PlaybookOptions());
        yield return Region(configured.GetValueOrDefault(RegionOutage) ?? new PlaybookOptions());
        yield return Application(configured.GetValueOrDefault(ApplicationFailure) ?? new PlaybookOptions());
    }

    private static PlaybookDefinition Database(PlaybookOptions options)
    {
        var component = options.Component ?? "database";
        var probes = options.Probes.Count > 0 ? options.Probes : [component];
        return Build(DatabaseFailure, options, "critical", null, null,
            "The primary database failed: stop writes, promote the replica, re-point connections, verify.",
            Step(new FenceStep("stop-writes", component, Hook(options, "stop-writes")), options, TimeSpan.FromSeconds(30)),
            Step(new FailoverPlaybookStep("promote-replica", component), options, TimeSpan.FromMinutes(2), d => d.Precondition = (c, ct) => FailoverPlaybookStep.CheckAsync(c, component, ct)),
            Step(new WaitHealthyStep("update-connections", [component], Hook(options, "update-connections")), options, TimeSpan.FromMinutes(1)),
            Step(new WaitHealthyStep("verify-integrity", probes, Hook(options, "verify-integrity")), options, TimeSpan.FromMinutes(2)));
    }

    private static PlaybookDefinition Region(PlaybookOptions options) =>
        Build(RegionOutage, options, "high", null, null,
            "The primary region is lost: restore the database from the other region's backups, deploy the application, update DNS, verify.",
            Step(new ServiceStep("restore-database", "restore-database"), options, TimeSpan.FromMinutes(45)),
            Step(new HookStep("deploy-application", Hook(options, "deploy-application"), $"BackupDR:Playbooks:{RegionOutage}:Hooks:deploy-application"), options, TimeSpan.FromMinutes(10)),
            Step(new HookStep("update-dns", Hook(options, "update-dns"), $"BackupDR:Playbooks:{RegionOutage}:Hooks:update-dns"), options, TimeSpan.FromMinutes(5)),
            Step(new WaitHealthyStep("verify-services", options.Probes.Count > 0 ? options.Probes : null), options, TimeSpan.FromMinutes(5)));

    private static PlaybookDefinition Application(PlaybookOptions options)
    {
        var probes = options.Probes.Count > 0 ? options.Probes : null;
        return Build(ApplicationFailure, options, null, TimeSpan.FromMinutes(30), TimeSpan.Zero,
            "The application fails: name the failing components, restart instances, verify health, watch.",
            Step(new IdentifyFailureStep("identify-failure", probes), options, TimeSpan.FromMinutes(1)),
            Step(new HookStep("restart-instances", Hook(options, "restart-instances"), $"BackupDR:Playbooks:{ApplicationFailure}:Hooks:restart-instances"), options, TimeSpan.FromMinutes(10), d => d.Retries = 2),
            Step(new WaitHealthyStep("verify-health", probes), options, TimeSpan.FromMinutes(5)),
            Step(new MonitorStep("monitor", probes, options.MonitorFor ?? TimeSpan.FromMinutes(2)), options, (options.MonitorFor ?? TimeSpan.FromMinutes(2)) + TimeSpan.FromMinutes(1)));
    }

    private static PlaybookDefinition Build(string name, PlaybookOptions options, string? tier, TimeSpan? rto, TimeSpan? rpo, string description, params PlaybookStepDefinition[] steps)
    {
        var explicitObjectives = options.Rto is not null || options.Rpo is not null;
        return new PlaybookDefinition(name, steps)
        {
            Description = options.Description ?? description,
            Tier = options.Tier ?? (explicitObjectives ? null : tier),
            Rto = options.Rto ?? rto,
            Rpo = options.Rpo ?? rpo,
        };
    }

    private static PlaybookStepDefinition Step(IPlaybookStep step, PlaybookOptions options, TimeSpan timeout, Action<PlaybookStepDefinition>? configure = null)
    {
        var definition = new PlaybookStepDefinition(step)
        {
            Timeout = options.Timeouts.GetValueOrDefault(step.Name, timeout),
            RequiresApproval = options.RequireApproval.Contains(step.Name, StringComparer.Ordinal),
        };
        configure?.Invoke(definition);
        return definition;
    }

    private static Hooks.HookOptions? Hook(PlaybookOptions options, string step) => options.Hooks.GetValueOrDefault(step);
}

/// <summary>Playbooks written in configuration (those with <c>Steps</c>).</summary>
internal static class PlaybookConfiguration
{
    internal static IEnumerable<PlaybookDefinition> Create(IReadOnlyDictionary<string, PlaybookOptions> configured) =>
        configured.Where(p => p.Value.Steps.Count > 0).Select(p => Create(p.Key, p.Value));

    internal static PlaybookDefinition Create(string name, PlaybookOptions options) =>
        new(name, [.. options.Steps.Select(s => new PlaybookStepDefinition(CreateStep(name, s))
        {
            Timeout = s.Timeout,
            Retries = s.Retries,
            Backoff = s.Backoff,
            RequiresApproval = s.RequiresApproval,
            Compensation = s.Compensation is null ? null : new HookStep($"undo-{s.Name}", s.Compensation, $"BackupDR:Playbooks:{name}:Steps:{s.Name}:Compensation"),
            Precondition = s.Type == PlaybookStepType.Failover ? (c, ct) => FailoverPlaybookStep.CheckAsync(c, s.Component!, ct) : null,
        })])
        {
            Description = options.Description ?? string.Empty,
            Tier = options.Tier,
            Rto = options.Rto,
            Rpo = options.Rpo,
        };

    private static IPlaybookStep CreateStep(string playbook, PlaybookStepOptions step) => step.Type switch
    {
        PlaybookStepType.Hook => new HookStep(step.Name, step.Hook, $"BackupDR:Playbooks:{playbook}:Steps:{step.Name}:Hook"),
        PlaybookStepType.Failover => new FailoverPlaybookStep(step.Name, step.Component!),
        PlaybookStepType.Fence => new FenceStep(step.Name, step.Component!, step.Hook),
        PlaybookStepType.WaitHealthy => new WaitHealthyStep(step.Name, step.Probes, step.Hook),
        PlaybookStepType.Service => new ServiceStep(step.Name, step.Service!),
        _ => throw new ArgumentOutOfRangeException(nameof(step), step.Type, "Unknown step type."),
    };

    /// <summary>Lists what is wrong with the configured playbooks.</summary>
    internal static IEnumerable<string> Validate(IReadOnlyDictionary<string, PlaybookOptions> configured, IReadOnlyDictionary<string, Health.RecoveryObjective> tiers)
    {
        foreach (var (name, options) in configured)
        {
            var at = $"Playbooks:{name}";
            if (!Catalog.StorageLayout.IsValidKind(name))
            {
                yield return $"{at}: the name must be 1 to 32 lower-case letters, digits and '-', starting with a letter.";
            }

            if (options.Tier is { } tier && !tiers.ContainsKey(tier))
            {
                yield return $"{at}:Tier '{tier}' is not one of Objectives:Tiers ({string.Join(", ", tiers.Keys)}).";
            }

            if (options.Rto <= TimeSpan.Zero || options.Rpo < TimeSpan.Zero || options.MonitorFor <= TimeSpan.Zero || options.Timeouts.Values.Any(t => t <= TimeSpan.Zero))
            {
                yield return $"{at}: Rto, MonitorFor and Timeouts must be positive, Rpo not negative.";
            }

            foreach (var (step, hook) in options.Hooks)
            {
                foreach (var problem in hook.Validate($"{at}:Hooks:{step}"))
                {
                    yield return problem;
                }
            }

            if (options.Steps.Select(s => s.Name).Distinct(StringComparer.Ordinal).Count() != options.Steps.Count)
            {
                yield return $"{at}:Steps: step names must be distinct.";
            }

            foreach (var step in options.Steps)
            {
                var stepAt = $"{at}:Steps:{step.Name}";
                if (string.IsNullOrWhiteSpace(step.Name))
                {
                    yield return $"{at}:Steps: every step needs a Name.";
                }

                if (step.Timeout <= TimeSpan.Zero || step.Retries is < 0 or > 100 || step.Backoff < TimeSpan.Zero)
                {
                    yield return $"{stepAt}: Timeout must be positive, Retries within 0..100, Backoff not negative.";
                }

                var missing = step.Type switch
                {
                    PlaybookStepType.Hook when step.Hook is null => "Hook",
                    PlaybookStepType.Failover or PlaybookStepType.Fence when string.IsNullOrWhiteSpace(step.Component) => "Component",
                    PlaybookStepType.WaitHealthy when step.Probes.Count == 0 => "Probes",
                    PlaybookStepType.Service when string.IsNullOrWhiteSpace(step.Service) => "Service",
                    _ => null,
                };
                if (missing is not null)
                {
                    yield return $"{stepAt}: a {step.Type} step needs {missing}.";
                }

                foreach (var problem in (step.Hook?.Validate($"{stepAt}:Hook") ?? []).Concat(step.Compensation?.Validate($"{stepAt}:Compensation") ?? []))
                {
                    yield return problem;
                }
            }
        }
    }
}
