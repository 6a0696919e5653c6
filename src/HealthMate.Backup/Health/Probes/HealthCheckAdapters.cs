using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup.Health;

/// <summary>Serves an <see cref="IHealthProbe"/> as an ASP.NET Core <see cref="IHealthCheck"/> (healthy, degraded and
/// unhealthy map one to one; the probe's data become the check's data).</summary>
public sealed class ProbeHealthCheck : IHealthCheck
{
    private readonly IHealthProbe _probe;

    /// <summary>Initializes a new instance of the <see cref="ProbeHealthCheck"/> class.</summary>
    /// <param name="probe">The probe.</param>
    public ProbeHealthCheck(IHealthProbe probe) => _probe = probe ?? throw new ArgumentNullException(nameof(probe));

    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var result = await _probe.ProbeAsync(cancellationToken).ConfigureAwait(false);
        var data = new Dictionary<string, object>(result.Data, StringComparer.Ordinal) { ["duration_ms"] = result.Duration.TotalMilliseconds };
        return new HealthCheckResult(
            result.Status switch { ProbeStatus.Healthy => HealthStatus.Healthy, ProbeStatus.Degraded => HealthStatus.Degraded, _ => context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy },
            result.Description,
            result.Error,
            data);
    }
}

/// <summary>Runs an ASP.NET Core <see cref="IHealthCheck"/> as an <see cref="IHealthProbe"/>, so the health monitor
/// (and failover) can watch what a host already checks. A check that throws is unhealthy.</summary>
public sealed class HealthCheckProbe : IHealthProbe
{
    private readonly IHealthCheck _check;

    /// <summary>Initializes a new instance of the <see cref="HealthCheckProbe"/> class.</summary>
    /// <param name="name">The probe's name.</param>
    /// <param name="check">The check.</param>
    public HealthCheckProbe(string name, IHealthCheck check)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        _check = check ?? throw new ArgumentNullException(nameof(check));
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken = default)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var context = new HealthCheckContext { Registration = new HealthCheckRegistration(Name, _check, HealthStatus.Unhealthy, null) };
        try
        {
            var result = await _check.CheckHealthAsync(context, cancellationToken).ConfigureAwait(false);
            var status = result.Status switch { HealthStatus.Healthy => ProbeStatus.Healthy, HealthStatus.Degraded => ProbeStatus.Degraded, _ => ProbeStatus.Unhealthy };
            return new ProbeResult(status, result.Description ?? result.Status.ToString(), started.Elapsed, result.Data.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal), result.Exception);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(ProbeStatus.Unhealthy, $"health check threw {ex.GetType().Name}", started.Elapsed, new Dictionary<string, object>(), ex);
        }
    }
}

/// <summary>Registers one health check per registered probe (the probes are known only once the container is built).</summary>
internal sealed class ProbeHealthCheckRegistrations(IEnumerable<IHealthProbe> probes, string[]? tags) : IConfigureOptions<HealthCheckServiceOptions>
{
    public void Configure(HealthCheckServiceOptions options)
    {
        foreach (var probe in probes.GroupBy(p => p.Name, StringComparer.Ordinal).Select(g => g.Last()))
        {
            if (options.Registrations.All(r => r.Name != probe.Name))
            {
                options.Registrations.Add(new HealthCheckRegistration(probe.Name, _ => new ProbeHealthCheck(probe), HealthStatus.Unhealthy, tags));
            }
        }
    }
}
