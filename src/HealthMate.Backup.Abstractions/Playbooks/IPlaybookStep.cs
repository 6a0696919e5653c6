namespace HealthMate.Backup.Playbooks;

/// <summary>
/// One step of a disaster-recovery playbook (promote a replica, call a deploy hook, verify a service). The playbook
/// engine wraps it with a timeout, retries with backoff, a precondition, an approval gate and an optional
/// compensation; the step itself does one thing and honours cancellation.
/// </summary>
public interface IPlaybookStep
{
    /// <summary>Gets the step's name, as the run report shows it.</summary>
    string Name { get; }

    /// <summary>Says what the step would do, for a dry run; never a secret.</summary>
    /// <returns>One line.</returns>
    string Describe();

    /// <summary>Runs the step once.</summary>
    /// <param name="context">The run: playbook, mode, shared state.</param>
    /// <param name="cancellationToken">Cancelled on timeout or when the run is cancelled.</param>
    /// <returns>What it did.</returns>
    Task<PlaybookStepResult> ExecuteAsync(PlaybookStepContext context, CancellationToken cancellationToken);
}

/// <summary>What a step did: its output for the report, and measurements.</summary>
/// <param name="Output">One or a few lines for people; never a secret.</param>
/// <param name="Data">Measurements by name.</param>
public sealed record PlaybookStepResult(string Output, IReadOnlyDictionary<string, object>? Data = null);

/// <summary>A step found that the playbook must not go on (for example a standby not eligible for promotion). Not retried.</summary>
public sealed class PlaybookStepFailedException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="PlaybookStepFailedException"/> class.</summary>
    /// <param name="message">Why; never a secret.</param>
    public PlaybookStepFailedException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="PlaybookStepFailedException"/> class.</summary>
    /// <param name="message">Why; never a secret.</param>
    /// <param name="innerException">The cause.</param>
    public PlaybookStepFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The run a step belongs to.</summary>
public sealed class PlaybookStepContext
{
    /// <summary>Initializes a new instance of the <see cref="PlaybookStepContext"/> class.</summary>
    /// <param name="playbook">The playbook's name.</param>
    /// <param name="runId">The run's id.</param>
    /// <param name="isDrill">Whether the run is a drill.</param>
    /// <param name="services">The host's services.</param>
    /// <param name="detectedAt">When the failure was detected (the RTO clock's start).</param>
    public PlaybookStepContext(string playbook, string runId, bool isDrill, IServiceProvider services, DateTimeOffset detectedAt)
    {
        Playbook = playbook;
        RunId = runId;
        IsDrill = isDrill;
        Services = services;
        DetectedAt = detectedAt;
    }

    /// <summary>Gets the playbook's name.</summary>
    public string Playbook { get; }

    /// <summary>Gets the run's id.</summary>
    public string RunId { get; }

    /// <summary>Gets whether the run is a drill: real infrastructure, recorded as a test.</summary>
    public bool IsDrill { get; }

    /// <summary>Gets the host's services.</summary>
    public IServiceProvider Services { get; }

    /// <summary>Gets when the failure was detected.</summary>
    public DateTimeOffset DetectedAt { get; }

    /// <summary>Gets the 1-based attempt of the current step.</summary>
    public int Attempt { get; private set; } = 1;

    /// <summary>Gets state the steps of one run share (a step stores what a later step or a compensation needs).</summary>
    public IDictionary<string, object?> State { get; } = new Dictionary<string, object?>(StringComparer.Ordinal);

    /// <summary>Sets the attempt (for the engine).</summary>
    /// <param name="attempt">The attempt.</param>
    public void SetAttempt(int attempt) => Attempt = attempt;
}
