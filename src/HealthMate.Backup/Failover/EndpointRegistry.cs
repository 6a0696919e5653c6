using System.Collections.Concurrent;
using HealthMate.Backup.Telemetry;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Failover;

/// <summary>Where clients of a component should go now.</summary>
/// <param name="Component">The component (<c>database</c>).</param>
/// <param name="Address">The address (<c>host:port</c>, a URL); never holds credentials.</param>
/// <param name="ChangedAt">When it was published.</param>
/// <param name="Reason">Why it changed.</param>
public sealed record ServiceEndpoint(string Component, string Address, DateTimeOffset ChangedAt, string Reason);

/// <summary>
/// The current endpoint of each failed-over component. Failover strategies publish here; the host subscribes to
/// <see cref="Changed"/> to re-point what a multi-host connection string cannot (a connection pool's cached host
/// states, a service-discovery entry, a configuration value).
/// </summary>
public interface IEndpointRegistry
{
    /// <summary>Raised after an endpoint changes, on the publishing thread.</summary>
    event EventHandler<ServiceEndpoint>? Changed;

    /// <summary>Gets a component's current endpoint, or <see langword="null"/> if none was published.</summary>
    /// <param name="component">The component.</param>
    /// <returns>The endpoint.</returns>
    ServiceEndpoint? Get(string component);

    /// <summary>Publishes a component's new endpoint.</summary>
    /// <param name="endpoint">The endpoint.</param>
    void Publish(ServiceEndpoint endpoint);
}

/// <summary>The in-process registry.</summary>
internal sealed class EndpointRegistry(ILoggerFactory loggerFactory) : IEndpointRegistry
{
    private readonly ConcurrentDictionary<string, ServiceEndpoint> _endpoints = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggerFactory.CreateLogger<EndpointRegistry>();

    public event EventHandler<ServiceEndpoint>? Changed;

    public ServiceEndpoint? Get(string component) => _endpoints.TryGetValue(component, out var endpoint) ? endpoint : null;

    public void Publish(ServiceEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint.Component);
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint.Address);
        _endpoints[endpoint.Component] = endpoint;
        Log.EndpointChanged(_logger, endpoint.Component, endpoint.Address, endpoint.Reason);
        Changed?.Invoke(this, endpoint);
    }
}
