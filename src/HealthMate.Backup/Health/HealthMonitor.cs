using System.Diagnostics;
using System.Diagnostics.Metrics;
using HealthMate.Backup.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup.Health;

/// <summary>What the monitor believes about a component.</summary>
public enum ComponentState
{
    /// <summary>Not probed yet.</summary>
    Unknown = 0,

    /// <summary>Answering.</summary>
    Up = 1,

    /// <summary>Failing, but not yet as often as the threshold asks.</summary>
    Suspect = 2,

    /// <summary>Failed the threshold's number of times in a row within the window.</summary>
    Down = 3,
}

/// <summary>One answer kept in a component's history.</summary>
/// <param name="At">When the probe started.</param>
/// <param name="Status">Its answer.</param>
/// <param name="Duration">How long it took.</param>
/// <param name="Description">Its description.</param>
public sealed record ProbeSample(DateTimeOffset At, ProbeStatus Status, TimeSpan Duration, string Description);

/// <summary>A component as the monitor sees it.</summary>
/// <param name="Name">The probe's name.</param>
/// <param name="State">The state.</param>
/// <param name="Since">When it entered the state.</param>
/// <param name="ConsecutiveFailures">Failures in a row.</param>
/// <param name="FirstFailureAt">When the current run of failures started (the outage's start as far as is known).</param>
/// <param name="Last">The newest answer.</param>
/// <param name="History">The newest answers, oldest first.</param>
public sealed record ComponentStatus(string Name, ComponentState State, DateTimeOffset? Since, int ConsecutiveFailures, DateTimeOffset? FirstFailureAt, ProbeResult? Last, IReadOnlyList<ProbeSample> History);

/// <summary>A component changed state.</summary>
/// <param name="Component">The probe's name.</param>
/// <param name="Previous">The old state.</param>
/// <param name="Current">The new state.</param>
/// <param name="At">When.</param>
/// <param name="FirstFailureAt">When the failures that led here started, for <see cref="ComponentState.Down"/>.</param>
/// <param name="Description">The newest answer's description.</param>
/// <param name="LastHealthyAt">When the last successful answer came, for <see cref="ComponentState.Down"/>: the outage began after it,
/// so an RTO measured from here is never shorter than the real one.</param>
public sealed record ComponentStateChange(string Component, ComponentState Previous, ComponentState Current, DateTimeOffset At, DateTimeOffset? FirstFailureAt, string Description, DateTimeOffset? LastHealthyAt = null);

/// <summary>Runs the registered <see cref="IHealthProbe"/>s on their intervals and decides which components are down.</summary>
public interface IHealthMonitor
{
    /// <summary>Raised on every state change, on the probing thread: handlers must return quickly.</summary>
    event EventHandler<ComponentStateChange>? StateChanged;

    /// <summary>Gets every monitored component.</summary>
    /// <returns>The components, by name.</returns>
    IReadOnlyList<ComponentStatus> GetStatus();

    /// <summary>Gets one component, or <see langword="null"/> if no probe has that name.</summary>
    /// <param name="component">The probe's name.</param>
    /// <returns>The component.</returns>
    ComponentStatus? GetStatus(string component);

    /// <summary>Runs one probe now (with its timeout) and applies its answer.</summary>
    /// <param name="component">The probe's name.</param>
    /// <param name="cancellationToken">Cancels the probe.</param>
    /// <returns>The component afterwards.</returns>
    Task<ComponentStatus> ProbeNowAsync(string component, CancellationToken cancellationToken = default);
}

/// <summary>
/// The health monitor: one loop per probe; each probe runs under a linked cancellation source that its timeout
/// cancels, so a hung probe is abandoned by cancellation and counted as a failure. A component is down after
/// <c>FailureThreshold</c> failures in a row whose starts lie within <c>FailureWindow</c>; one slow answer only makes it
/// suspect. Transitions raise <see cref="StateChanged"/>, are logged, and counted in
/// <c>healthmate.backup.monitor.transitions</c>; every answer is timed in <c>healthmate.backup.probe.duration</c>.
/// </summary>
public sealed class HealthMonitor : BackgroundService, IHealthMonitor
{
    private static readonly Histogram<double> ProbeDuration = BackupTelemetry.Meter.CreateHistogram<double>("healthmate.backup.probe.duration", "s", "Duration of health probes by probe and status.");
    private static readonly Counter<long> Transitions = BackupTelemetry.Meter.CreateCounter<long>("healthmate.backup.monitor.transitions", "{transition}", "Component state changes by component and new state.");
    private static HealthMonitor? s_current;

    private readonly Dictionary<string, Tracked> _components;
    private readonly HealthMonitorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    static HealthMonitor() =>
        BackupTelemetry.Meter.CreateObservableGauge("healthmate.backup.monitor.state", () =>
            s_current?._components.Values.Select(t => new Measurement<int>((int)t.State, new KeyValuePair<string, object?>("component", t.Name))) ?? [],
            "{state}", "Component state: 0 unknown, 1 up, 2 suspect, 3 down.");

    /// <summary>Initializes a new instance of the <see cref="HealthMonitor"/> class.</summary>
    /// <param name="probes">The probes to run (one component each, by name).</param>
    /// <param name="options">The <c>BackupDR:Monitor</c> settings.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="loggerFactory">Logs.</param>
    public HealthMonitor(IEnumerable<IHealthProbe> probes, IOptions<BackupDROptions> options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(probes);
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value.Monitor;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger<HealthMonitor>();
        _components = probes.GroupBy(p => p.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => new Tracked(g.Last(), _options.Resolve(g.Key)), StringComparer.Ordinal);
        s_current = this;
    }

    /// <inheritdoc />
    public event EventHandler<ComponentStateChange>? StateChanged;

    /// <inheritdoc />
    public IReadOnlyList<ComponentStatus> GetStatus() => [.. _components.Values.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => t.Snapshot())];

    /// <inheritdoc />
    public ComponentStatus? GetStatus(string component) => _components.TryGetValue(component, out var tracked) ? tracked.Snapshot() : null;

    /// <inheritdoc />
    public async Task<ComponentStatus> ProbeNowAsync(string component, CancellationToken cancellationToken = default)
    {
        if (!_components.TryGetValue(component, out var tracked))
        {
            throw new ArgumentException($"No probe is named '{component}'. Registered: {string.Join(", ", _components.Keys.Order(StringComparer.Ordinal))}.", nameof(component));
        }

        await ProbeOnceAsync(tracked, cancellationToken).ConfigureAwait(false);
        return tracked.Snapshot();
    }

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return Task.CompletedTask;
        }

        return Task.WhenAll(_components.Values.Where(t => t.Settings.Enabled).Select(t => LoopAsync(t, stoppingToken)));
    }

    private async Task LoopAsync(Tracked tracked, CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ProbeOnceAsync(tracked, stoppingToken).ConfigureAwait(false);
                await Task.Delay(tracked.Settings.Interval, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task ProbeOnceAsync(Tracked tracked, CancellationToken cancellationToken)
    {
        var startedAt = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        var result = await ProbeRunner.RunAsync(tracked.Probe, tracked.Settings.Timeout, _time, ex => Log.ProbeThrew(_logger, tracked.Name, ex), cancellationToken).ConfigureAwait(false);
        ProbeDuration.Record(clock.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("probe", tracked.Name), new KeyValuePair<string, object?>("status", result.Status.ToString().ToLowerInvariant()));
        var change = tracked.Apply(startedAt, result, _options.HistorySize, _time.GetUtcNow());
        if (change is not null)
        {
            Transitions.Add(1, new KeyValuePair<string, object?>("component", tracked.Name), new KeyValuePair<string, object?>("state", change.Current.ToString().ToLowerInvariant()));
            Log.ComponentStateChanged(_logger, change.Component, change.Current.ToString(), change.Previous.ToString(), change.Description);
            StateChanged?.Invoke(this, change);
        }
    }

    /// <summary>One component's state machine.</summary>
    private sealed class Tracked(IHealthProbe probe, MonitoredProbeSettings settings)
    {
        private readonly Lock _gate = new();
        private readonly Queue<ProbeSample> _history = new();
        private readonly Queue<DateTimeOffset> _failureStarts = new();
        private int _successes;
        private DateTimeOffset? _since;
        private DateTimeOffset? _lastHealthyAt;
        private ProbeResult? _last;

        public IHealthProbe Probe { get; } = probe;

        public string Name => Probe.Name;

        public MonitoredProbeSettings Settings { get; } = settings;

        public ComponentState State { get; private set; }

        private int Failures { get; set; }

        private DateTimeOffset? FirstFailureAt { get; set; }

        public ComponentStateChange? Apply(DateTimeOffset startedAt, ProbeResult result, int historySize, DateTimeOffset now)
        {
            lock (_gate)
            {
                _last = result;
                _history.Enqueue(new ProbeSample(startedAt, result.Status, result.Duration, result.Description));
                while (_history.Count > historySize)
                {
                    _history.Dequeue();
                }

                var failed = result.Status == ProbeStatus.Unhealthy || (Settings.DegradedIsFailure && result.Status == ProbeStatus.Degraded);
                var previous = State;
                if (failed)
                {
                    _successes = 0;
                    Failures++;
                    FirstFailureAt ??= startedAt;
                    _failureStarts.Enqueue(startedAt);
                    while (_failureStarts.Count > Settings.FailureThreshold)
                    {
                        _failureStarts.Dequeue();
                    }

                    var down = _failureStarts.Count == Settings.FailureThreshold && startedAt - _failureStarts.Peek() <= Settings.FailureWindow;
                    State = down ? ComponentState.Down : State == ComponentState.Down ? ComponentState.Down : ComponentState.Suspect;
                }
                else
                {
                    _successes++;
                    _lastHealthyAt = startedAt + result.Duration;
                    Failures = 0;
                    _failureStarts.Clear();
                    if (State != ComponentState.Down || _successes >= Settings.RecoveryThreshold)
                    {
                        FirstFailureAt = null;
                        State = ComponentState.Up;
                    }
                }

                if (State == previous)
                {
                    return null;
                }

                _since = now;
                var isDown = State == ComponentState.Down;
                return new ComponentStateChange(Name, previous, State, now, isDown ? FirstFailureAt : null, result.Description, isDown ? _lastHealthyAt : null);
            }
        }

        public ComponentStatus Snapshot()
        {
            lock (_gate)
            {
                return new ComponentStatus(Name, State, _since, Failures, FirstFailureAt, _last, [.. _history]);
            }
        }
    }
}
