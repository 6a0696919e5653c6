namespace HealthMate.Backup.Playbooks;

/// <summary>Checks whether a step may run; returns <see langword="null"/> when it may, else why not.</summary>
/// <param name="context">The run.</param>
/// <param name="cancellationToken">Cancels the check.</param>
/// <returns>The reason it may not run, or <see langword="null"/>.</returns>
public delegate Task<string?> PlaybookPrecondition(PlaybookStepContext context, CancellationToken cancellationToken);

/// <summary>A step with what the engine wraps it in.</summary>
public sealed class PlaybookStepDefinition
{
    /// <summary>Initializes a new instance of the <see cref="PlaybookStepDefinition"/> class.</summary>
    /// <param name="step">The step.</param>
    public PlaybookStepDefinition(IPlaybookStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        Step = step;
    }

    /// <summary>Gets the step.</summary>
    public IPlaybookStep Step { get; }

    /// <summary>Gets or sets how long one attempt may take.</summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets how many times a failed attempt is retried.</summary>
    public int Retries { get; set; }

    /// <summary>Gets or sets the wait before the first retry; it doubles for each further retry, up to one minute.</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan Backoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets a check run before the step (and in a dry run); if it fails the run stops.</summary>
    public PlaybookPrecondition? Precondition { get; set; }

    /// <summary>Gets or sets whether the step waits for a person's approval before it runs.</summary>
    public bool RequiresApproval { get; set; }

    /// <summary>Gets or sets how long that approval may take before the run counts as rejected.</summary>
    /// <value>The default value is 30 minutes.</value>
    public TimeSpan ApprovalTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Gets or sets the step that undoes this one, run (newest first) if a later step fails or the run is cancelled.</summary>
    public IPlaybookStep? Compensation { get; set; }
}

/// <summary>A named disaster-recovery scenario: its objectives and ordered steps.</summary>
public sealed class PlaybookDefinition
{
    /// <summary>Initializes a new instance of the <see cref="PlaybookDefinition"/> class.</summary>
    /// <param name="name">The name (lower-case letters, digits and '-').</param>
    /// <param name="steps">The steps, in order (at least one, distinct names).</param>
    public PlaybookDefinition(string name, IReadOnlyList<PlaybookStepDefinition> steps)
    {
        if (!Catalog.StorageLayout.IsValidKind(name))
        {
            throw new ArgumentException($"Playbook name '{name}' is not valid: use 1 to 32 lower-case letters, digits and '-', starting with a letter.", nameof(name));
        }

        ArgumentNullException.ThrowIfNull(steps);
        if (steps.Count == 0 || steps.Select(s => s.Step.Name).Distinct(StringComparer.Ordinal).Count() != steps.Count)
        {
            throw new ArgumentException($"Playbook '{name}' needs at least one step, and its steps distinct names.", nameof(steps));
        }

        foreach (var step in steps)
        {
            if (step.Timeout <= TimeSpan.Zero || step.Retries is < 0 or > 100 || step.Backoff < TimeSpan.Zero || step.ApprovalTimeout <= TimeSpan.Zero)
            {
                throw new ArgumentException($"Playbook '{name}' step '{step.Step.Name}': Timeout and ApprovalTimeout must be positive, Retries within 0..100, Backoff not negative.", nameof(steps));
            }
        }

        Name = name;
        Steps = steps;
    }

    /// <summary>Gets the name.</summary>
    public string Name { get; }

    /// <summary>Gets or sets what the scenario is.</summary>
    public string Description { get; set; } = string.Empty;

    /// <summary>Gets or sets the tier whose objectives apply, or <see langword="null"/> to use <see cref="Rto"/> and <see cref="Rpo"/>.</summary>
    public string? Tier { get; set; }

    /// <summary>Gets or sets the recovery time objective when no tier is set.</summary>
    public TimeSpan? Rto { get; set; }

    /// <summary>Gets or sets the recovery point objective when no tier is set.</summary>
    public TimeSpan? Rpo { get; set; }

    /// <summary>Gets the steps, in order.</summary>
    public IReadOnlyList<PlaybookStepDefinition> Steps { get; }
}

/// <summary>Builds a playbook in code: <c>Playbook.Create("x").WithTier("high").Step(...).Build()</c>.</summary>
public sealed class PlaybookBuilder
{
    private readonly string _name;
    private readonly List<PlaybookStepDefinition> _steps = [];
    private string _description = string.Empty;
    private string? _tier;
    private TimeSpan? _rto;
    private TimeSpan? _rpo;

    internal PlaybookBuilder(string name) => _name = name;

    /// <summary>Describes the scenario.</summary>
    /// <param name="description">What it is.</param>
    /// <returns>The builder.</returns>
    public PlaybookBuilder WithDescription(string description)
    {
        _description = description ?? string.Empty;
        return this;
    }

    /// <summary>Takes the objectives of a tier (<c>BackupDR:Objectives:Tiers</c>).</summary>
    /// <param name="tier">The tier.</param>
    /// <returns>The builder.</returns>
    public PlaybookBuilder WithTier(string tier)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tier);
        _tier = tier;
        return this;
    }

    /// <summary>Sets the objectives directly.</summary>
    /// <param name="rto">The recovery time objective.</param>
    /// <param name="rpo">The recovery point objective, or <see langword="null"/>.</param>
    /// <returns>The builder.</returns>
    public PlaybookBuilder WithObjectives(TimeSpan rto, TimeSpan? rpo)
    {
        _rto = rto;
        _rpo = rpo;
        return this;
    }

    /// <summary>Adds a step.</summary>
    /// <param name="step">The step.</param>
    /// <param name="configure">Sets its timeout, retries, precondition, approval and compensation.</param>
    /// <returns>The builder.</returns>
    public PlaybookBuilder Step(IPlaybookStep step, Action<PlaybookStepDefinition>? configure = null)
    {
        var definition = new PlaybookStepDefinition(step);
        configure?.Invoke(definition);
        _steps.Add(definition);
        return this;
    }

    /// <summary>Adds a step written as a delegate.</summary>
    /// <param name="name">The step's name.</param>
    /// <param name="description">What it does, for dry runs.</param>
    /// <param name="execute">What it does; returns its output.</param>
    /// <param name="configure">Sets its timeout, retries, precondition, approval and compensation.</param>
    /// <returns>The builder.</returns>
    public PlaybookBuilder Step(string name, string description, Func<PlaybookStepContext, CancellationToken, Task<string>> execute, Action<PlaybookStepDefinition>? configure = null) =>
        Step(new DelegateStep(name, description, execute), configure);

    /// <summary>Builds the playbook.</summary>
    /// <returns>The playbook.</returns>
    public PlaybookDefinition Build() => new(_name, [.. _steps]) { Description = _description, Tier = _tier, Rto = _rto, Rpo = _rpo };
}

/// <summary>Starts playbook builders.</summary>
public static class Playbook
{
    /// <summary>Starts building a playbook.</summary>
    /// <param name="name">Its name.</param>
    /// <returns>The builder.</returns>
    public static PlaybookBuilder Create(string name) => new(name);

    /// <summary>A step written as a delegate.</summary>
    /// <param name="name">The step's name.</param>
    /// <param name="description">What it does, for dry runs.</param>
    /// <param name="execute">What it does; returns its output.</param>
    /// <returns>The step.</returns>
    public static IPlaybookStep Step(string name, string description, Func<PlaybookStepContext, CancellationToken, Task<string>> execute) => new DelegateStep(name, description, execute);
}

internal sealed class DelegateStep(string name, string description, Func<PlaybookStepContext, CancellationToken, Task<string>> execute) : IPlaybookStep
{
    public string Name { get; } = !string.IsNullOrWhiteSpace(name) ? name : throw new ArgumentException("A step needs a name.", nameof(name));

    public string Describe() => description;

    public async Task<PlaybookStepResult> ExecuteAsync(PlaybookStepContext context, CancellationToken cancellationToken) =>
        new(await (execute ?? throw new InvalidOperationException("no delegate"))(context, cancellationToken).ConfigureAwait(false));
}
