using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using HealthMate.Backup.Playbooks;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Recovery;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace HealthMate.Backup.Tests.DR;

/// <summary>A host with the health monitor and automatic failover running (its hosted services started), over a local store.</summary>
internal sealed class DrHost : IAsyncDisposable
{
    private readonly List<IHostedService> _started = [];

    internal DrHost(PostgreSqlFailoverOptions? failover, Action<BackupDROptions>? configure = null, string? root = null, byte[]? key = null, Action<IServiceCollection>? services = null, TimeProvider? time = null)
    {
        Host = new TestHost(
            o =>
            {
                o.Monitor.Probes["backups"] = new MonitoredProbeOptions { Enabled = false };
                o.Failover.Components["database"] = new FailoverComponentOptions { Cooldown = TimeSpan.FromMinutes(10), RetryInterval = TimeSpan.FromSeconds(1) };
                configure?.Invoke(o);
            },
            root,
            key,
            keepRoot: root is not null,
            services: s =>
            {
                if (time is not null)
                {
                    s.AddSingleton(time);
                }

                var builder = s.AddBackupDR().AddHealthMonitor();
                if (failover is not null)
                {
                    builder.AddPostgreSqlFailover(failover);
                }

                services?.Invoke(s);
            });
    }

    internal TestHost Host { get; }

    internal IServiceProvider Services => Host.Services;

    internal IHealthMonitor Monitor => Services.GetRequiredService<IHealthMonitor>();

    internal IFailoverCoordinator Coordinator => Services.GetRequiredService<IFailoverCoordinator>();

    internal IRecoveryRecords Records => Services.GetRequiredService<IRecoveryRecords>();

    internal IPlaybookRunner Playbooks => Services.GetRequiredService<IPlaybookRunner>();

    internal IEndpointRegistry Endpoints => Services.GetRequiredService<IEndpointRegistry>();

    internal PostgreSqlFailoverStrategy Strategy => (PostgreSqlFailoverStrategy)Services.GetServices<IFailoverStrategy>().Single(s => s.Name == "database");

    /// <summary>Starts the monitor and the failover coordinator.</summary>
    internal async Task<DrHost> StartAsync()
    {
        foreach (var service in Services.GetServices<IHostedService>())
        {
            await service.StartAsync(CancellationToken.None);
            _started.Add(service);
        }

        return this;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var service in Enumerable.Reverse(_started))
        {
            await service.StopAsync(CancellationToken.None);
        }

        Host.Dispose();
    }
}
