using System.Diagnostics.Metrics;
using HealthMate.Backup.Health;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 13, defect 7: a manifest that fails authentication was skipped by the catalog with one log line, so a tampered
/// or damaged backup looked like a backup that was never taken: the health report stayed green. Now the listing says
/// which entries are invalid, the health report is unhealthy naming them, and a counter counts them.
/// </summary>
public sealed class Regression_TamperingIsVisibleTests
{
    [Fact]
    public async Task ATamperedManifest_MakesTheHealthReportUnhealthy_NamingIt_AndIsCounted()
    {
        using var host = new TestHost();
        var good = await host.BackupBytesAsync([1, 2, 3]);
        var tampered = await host.BackupBytesAsync([4, 5, 6]);
        var path = host.PathOf(TestHost.ManifestKey(tampered));
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[^20] ^= 0x01;
        await File.WriteAllBytesAsync(path, bytes);
        long counted = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "healthmate.backup.catalog.invalid_manifests")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref counted, value));
        listener.Start();

        var report = await host.Services.GetRequiredService<IBackupHealth>().GetReportAsync();

        Assert.Equal(ProbeStatus.Unhealthy, report.Status);
        var problem = Assert.Single(report.Groups.SelectMany(g => g.Problems), p => p.Contains(tampered.BackupId, StringComparison.Ordinal));
        Assert.Contains("authentic", problem, StringComparison.Ordinal);
        Assert.Equal([good.BackupId], await host.Catalog.ListAsync().Select(m => m.BackupId).ToListAsync());
        var entries = await host.Catalog.ListEntriesAsync().ToListAsync();
        Assert.Equal([good.BackupId, tampered.BackupId], entries.Select(e => e.BackupId));
        Assert.False(entries[1].IsValid);
        Assert.Null(entries[1].Manifest);
        Assert.True(counted >= 1, "the invalid manifest was not counted");
    }
}
