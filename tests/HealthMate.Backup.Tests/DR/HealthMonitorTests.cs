using HealthMate.Backup.Health;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace HealthMate.Backup.Tests.DR;

public sealed class HealthMonitorTests
{
    /// <summary>A probe that answers from a script, or waits for cancellation, or ignores it.</summary>
    private sealed class ScriptedProbe(string name) : IHealthProbe
    {
        public string Name => name;

        public Queue<ProbeStatus> Answers { get; } = new();

        public bool Hang { get; set; }

        public TimeSpan IgnoreCancellationFor { get; set; }

        public bool SawCancellation { get; private set; }

        public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken = default)
        {
            if (Hang)
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    SawCancellation = true;
                    throw;
                }
            }

            if (IgnoreCancellationFor > TimeSpan.Zero)
            {
                await Task.Delay(IgnoreCancellationFor, CancellationToken.None);
            }

            var status = Answers.Count > 0 ? Answers.Dequeue() : ProbeStatus.Healthy;
            return new ProbeResult(status, status.ToString(), TimeSpan.FromMilliseconds(1), new Dictionary<string, object>());
        }
    }

    private static HealthMonitor Monitor(IHealthProbe probe, TimeProvider time, Action<HealthMonitorOptions>? configure = null)
    {
        var options = new BackupDROptions();
        options.Monitor.Defaults.Timeout = TimeSpan.FromMilliseconds(300);
        configure?.Invoke(options.Monitor);
        return new HealthMonitor([probe], Options.Create(options), time, NullLoggerFactory.Instance);
    }

    [Fact]
    public async Task Three_failures_in_a_row_within_the_window_declare_a_component_down_and_one_is_only_suspect()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-26T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var probe = new ScriptedProbe("db");
        var monitor = Monitor(probe, time);
        var changes = new List<ComponentStateChange>();
        monitor.StateChanged += (_, c) => changes.Add(c);

        probe.Answers.Enqueue(ProbeStatus.Healthy);
        Assert.Equal(ComponentState.Up, (await monitor.ProbeNowAsync("db")).State);
        foreach (var (answer, expected) in new[] { (ProbeStatus.Unhealthy, ComponentState.Suspect), (ProbeStatus.Healthy, ComponentState.Up), (ProbeStatus.Degraded, ComponentState.Up), (ProbeStatus.Unhealthy, ComponentState.Suspect), (ProbeStatus.Unhealthy, ComponentState.Suspect) })
        {
            time.Advance(TimeSpan.FromSeconds(1));
            probe.Answers.Enqueue(answer);
            Assert.Equal(expected, (await monitor.ProbeNowAsync("db")).State);
        }

        var firstFailure = time.GetUtcNow() - TimeSpan.FromSeconds(1);
        time.Advance(TimeSpan.FromSeconds(1));
        probe.Answers.Enqueue(ProbeStatus.Unhealthy);
        var down = await monitor.ProbeNowAsync("db");
        Assert.Equal(ComponentState.Down, down.State);
        Assert.Equal(3, down.ConsecutiveFailures);
        Assert.Equal(firstFailure, down.FirstFailureAt);
        Assert.Equal(firstFailure, changes[^1].FirstFailureAt);
        Assert.Equal([ComponentState.Up, ComponentState.Suspect, ComponentState.Up, ComponentState.Suspect, ComponentState.Down], changes.Select(c => c.Current));

        // Back up only after two successes in a row.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ComponentState.Down, (await monitor.ProbeNowAsync("db")).State);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ComponentState.Up, (await monitor.ProbeNowAsync("db")).State);
        Assert.Equal(9, monitor.GetStatus("db")!.History.Count);
    }

    [Fact]
    public async Task Failures_spread_wider_than_the_window_do_not_declare_a_component_down()
    {
        var time = new FakeTimeProvider();
        var probe = new ScriptedProbe("db");
        var monitor = Monitor(probe, time, o => o.Defaults.FailureWindow = TimeSpan.FromSeconds(10));
        for (var i = 0; i < 6; i++)
        {
            probe.Answers.Enqueue(ProbeStatus.Unhealthy);
            Assert.Equal(ComponentState.Suspect, (await monitor.ProbeNowAsync("db")).State);
            time.Advance(TimeSpan.FromSeconds(6));
        }

        // Three quick ones do.
        for (var i = 0; i < 3; i++)
        {
            probe.Answers.Enqueue(ProbeStatus.Unhealthy);
            await monitor.ProbeNowAsync("db");
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(ComponentState.Down, monitor.GetStatus("db")!.State);
    }

    [Fact]
    public async Task A_probe_past_its_timeout_is_cancelled_through_its_token_and_counts_as_a_failure()
    {
        var hanging = new ScriptedProbe("hangs") { Hang = true };
        var monitor = Monitor(hanging, TimeProvider.System);
        var status = await monitor.ProbeNowAsync("hangs").WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(hanging.SawCancellation);
        Assert.Equal(ProbeStatus.Unhealthy, status.Last!.Status);
        Assert.Equal("no answer within 0.3 s", status.Last.Description);
        Assert.Equal(ComponentState.Suspect, status.State);

        var late = new ScriptedProbe("late") { IgnoreCancellationFor = TimeSpan.FromMilliseconds(500) };
        var lateStatus = await Monitor(late, TimeProvider.System).ProbeNowAsync("late");
        Assert.Equal(ProbeStatus.Unhealthy, lateStatus.Last!.Status);
        Assert.StartsWith("answered after", lateStatus.Last.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_running_monitor_probes_on_its_interval_and_raises_the_down_event()
    {
        var probe = new ScriptedProbe("db");
        var monitor = Monitor(probe, TimeProvider.System, o =>
        {
            o.Defaults.Interval = TimeSpan.FromMilliseconds(50);
            o.Defaults.FailureWindow = TimeSpan.FromSeconds(5);
        });
        var down = new TaskCompletionSource<ComponentStateChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        monitor.StateChanged += (_, c) =>
        {
            if (c.Current == ComponentState.Down)
            {
                down.TrySetResult(c);
            }
        };
        await monitor.StartAsync(CancellationToken.None);
        try
        {
            await PostgresPair.WaitAsync(() => Task.FromResult(monitor.GetStatus("db")!.History.Count >= 3), "three probes");
            for (var i = 0; i < 3; i++)
            {
                probe.Answers.Enqueue(ProbeStatus.Unhealthy);
            }

            var change = await down.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal("db", change.Component);
            Assert.Equal(ComponentState.Suspect, change.Previous);
        }
        finally
        {
            await monitor.StopAsync(CancellationToken.None);
        }
    }
}
