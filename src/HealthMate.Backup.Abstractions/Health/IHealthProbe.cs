namespace HealthMate.Backup.Health;

/// <summary>How a probed component is doing.</summary>
public enum ProbeStatus
{
    /// <summary>Working as expected.</summary>
    Healthy,

    /// <summary>Working, with a problem to look at (lag over budget, archiving failing).</summary>
    Degraded,

    /// <summary>Not working (unreachable, refusing, failing).</summary>
    Unhealthy,
}

/// <summary>The answer of one probe.</summary>
/// <param name="Status">How the component is doing.</param>
/// <param name="Description">One line for people; never a secret.</param>
/// <param name="Duration">How long the probe took.</param>
/// <param name="Data">What it measured (role, lag, counts), by name.</param>
/// <param name="Error">The error behind an unhealthy answer, if any.</param>
public sealed record ProbeResult(ProbeStatus Status, string Description, TimeSpan Duration, IReadOnlyDictionary<string, object> Data, Exception? Error = null);

/// <summary>Checks one component (a database, a storage, an endpoint) once. Implementations answer within their
/// timeout and report failures as <see cref="ProbeStatus.Unhealthy"/> rather than throwing.</summary>
public interface IHealthProbe
{
    /// <summary>Gets the probe's name, as reports and metrics show it.</summary>
    string Name { get; }

    /// <summary>Probes the component once.</summary>
    /// <param name="cancellationToken">Cancels the probe.</param>
    /// <returns>The answer.</returns>
    ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken = default);
}
