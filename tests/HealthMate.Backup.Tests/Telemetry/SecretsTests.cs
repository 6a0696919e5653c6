using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using HealthMate.Backup.Telemetry;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace HealthMate.Backup.Tests.Telemetry;

/// <summary>Keys and passphrases never reach a log, an exception, a manifest or a metric; runs are logged and measured.</summary>
public sealed class SecretsTests
{
    [Fact]
    public async Task KeyMaterial_NeverAppearsInLogsManifestsOrErrors_AcrossSuccessAndFailure()
    {
        var logs = new FakeLogCollector();
        var key = RandomNumberGenerator.GetBytes(32);
        using var host = new TestHost(key: key, services: s => s.AddSingleton<ILoggerFactory>(new FakeLoggerProviderFactory(logs)));
        var backup = await host.BackupBytesAsync(Payloads.Create(300_000, 1, 1));
        await host.RestoreBytesAsync(backup.BackupId);
        await host.Verifier.VerifyAsync(backup.BackupId);
        var failure = await Record.ExceptionAsync(() => host.Backups.RunAsync(BackupSources.Create("stream", "x", (_, _, _) => throw new IOException("boom"))).AsTask());
        using var wrongKey = new TestHost(root: host.Root);
        var wrong = await Record.ExceptionAsync(() => wrongKey.RestoreBytesAsync(backup.BackupId));

        var secrets = new[] { Convert.ToBase64String(key), Convert.ToHexString(key), Convert.ToHexStringLower(key) };
        var everything = string.Join("\n", logs.GetSnapshot().Select(r => r.Message + " " + r.Exception))
            + failure + wrong
            + string.Concat(Directory.GetFiles(host.Root, "*.json", SearchOption.AllDirectories).Select(File.ReadAllText));
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, everything, StringComparison.Ordinal);
        }

        var events = logs.GetSnapshot().Select(r => r.Id.Id).ToHashSet();
        Assert.Superset(new HashSet<int> { 1000, 1001, 1002, 1100, 1101, 1200 }, events);
    }

    [Fact]
    public async Task Runs_AreMeasuredAndTraced()
    {
        var measurements = new List<(string Name, double Value, string? Outcome)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == BackupTelemetry.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        listener.Start();
        // The listener sees every test's activities, from many threads at once.
        var activities = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var activityListener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == BackupTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activities.Enqueue,
        };
        ActivitySource.AddActivityListener(activityListener);
        using var host = new TestHost();

        var backup = await host.BackupBytesAsync(new byte[123_456]);

        lock (measurements)
        {
            Assert.Contains(measurements, m => m.Name == "healthmate.backup.operations" && m.Outcome == "success");
            Assert.Contains(measurements, m => m.Name == "healthmate.backup.bytes.read" && m.Value >= 123_456);
        }

        Assert.Contains(activities, a => a.OperationName == "backup" && (string?)a.GetTagItem("backup.id") == backup.BackupId);

        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? outcome = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "outcome")
                {
                    outcome = tag.Value as string;
                }
            }

            lock (measurements)
            {
                measurements.Add((instrument.Name, value, outcome));
            }
        }
    }
}
