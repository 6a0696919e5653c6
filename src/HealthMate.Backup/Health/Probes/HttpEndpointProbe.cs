using System.Diagnostics;
using System.Net.Http;
using HealthMate.Backup.Hooks;

namespace HealthMate.Backup.Health;

/// <summary>What the HTTP probe calls and expects.</summary>
public sealed class HttpProbeOptions
{
    /// <summary>Gets or sets the probe's name.</summary>
    public string Name { get; set; } = "http";

    /// <summary>Gets or sets the URL (a service's <c>/health</c>). Its query is never logged.</summary>
    public Uri? Url { get; set; }

    /// <summary>Gets or sets the status codes that mean healthy; empty means any 2xx.</summary>
    public List<int> ExpectedStatusCodes { get; set; } = [];

    /// <summary>Gets or sets a text the body must contain, or <see langword="null"/>.</summary>
    public string? ExpectedBodyContains { get; set; }

    /// <summary>Gets or sets how long the call may take. Defaults to 5 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the answer time above which the endpoint is degraded, or <see langword="null"/>.</summary>
    public TimeSpan? DegradedAfter { get; set; }

    /// <summary>Gets or sets request headers; their values are secrets, never logged.</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Probes an HTTP endpoint with a GET: healthy when the status (and body text) is the expected one within the timeout.</summary>
public sealed class HttpEndpointProbe : IHealthProbe
{
    private readonly HttpProbeOptions _options;

    /// <summary>Initializes a new instance of the <see cref="HttpEndpointProbe"/> class.</summary>
    /// <param name="options">What to call; validated here.</param>
    public HttpEndpointProbe(HttpProbeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Name) || options.Url is not { IsAbsoluteUri: true } url || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
            || options.Timeout <= TimeSpan.Zero || options.ExpectedStatusCodes.Any(c => c is < 100 or > 599))
        {
            throw new ArgumentException("The HTTP probe needs a Name, an absolute http(s) Url, a positive Timeout and status codes within 100..599.", nameof(options));
        }

        _options = options;
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <inheritdoc />
    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var target = Hook.Redact(_options.Url);
        var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["url"] = target };
        using var request = new HttpRequestMessage(HttpMethod.Get, _options.Url);
        foreach (var (name, value) in _options.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        try
        {
            var (status, body) = await Hook.SendAsync(request, _options.Timeout, cancellationToken).ConfigureAwait(false);
            data["status"] = status;
            if (!Hook.IsExpected(status, _options.ExpectedStatusCodes))
            {
                return new ProbeResult(ProbeStatus.Unhealthy, $"{target} answered {status}", clock.Elapsed, data);
            }

            if (_options.ExpectedBodyContains is { } text && !body.Contains(text, StringComparison.Ordinal))
            {
                return new ProbeResult(ProbeStatus.Unhealthy, $"{target} answered {status} without the expected text", clock.Elapsed, data);
            }

            return _options.DegradedAfter is { } slow && clock.Elapsed > slow
                ? new ProbeResult(ProbeStatus.Degraded, $"{target} answered {status} in {clock.Elapsed.TotalMilliseconds:0} ms, over {slow.TotalMilliseconds:0} ms", clock.Elapsed, data)
                : new ProbeResult(ProbeStatus.Healthy, $"{target} answered {status} in {clock.Elapsed.TotalMilliseconds:0} ms", clock.Elapsed, data);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(ProbeStatus.Unhealthy, $"{target} did not answer within {_options.Timeout.TotalSeconds:0.#} s", clock.Elapsed, data);
        }
        catch (HttpRequestException ex)
        {
            return new ProbeResult(ProbeStatus.Unhealthy, $"{target}: {ex.HttpRequestError}", clock.Elapsed, data, ex);
        }
    }
}
