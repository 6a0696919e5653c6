using System.Collections.Concurrent;
using HealthMate.Backup.Leases;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Scheduling;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static HealthMate.Backup.Tests.Scheduling.SchedulerSupport;

namespace HealthMate.Backup.Tests.Scheduling;

/// <summary>Shared checks of a lease provider, run against the storage lease and the PostgreSQL lease.</summary>
public abstract class LeaseContractTests
{
    /// <summary>A provider for another "host" competing for the same leases.</summary>
    private protected abstract ILeaseProvider NewHost();

    [Fact]
    public async Task OneHolderAtATimeAndTokensGrowWithEveryGrant()
    {
        var name = "test." + Guid.NewGuid().ToString("N")[..8];
        var (a, b) = (NewHost(), NewHost());
        var first = await a.TryAcquireAsync(name, TimeSpan.FromSeconds(30));
        Assert.NotNull(first);
        Assert.Null(await b.TryAcquireAsync(name, TimeSpan.FromSeconds(30)));
        Assert.True(await first.RenewAsync());
        await first.EnsureHeldAsync();
        await first.DisposeAsync();

        var second = await b.TryAcquireAsync(name, TimeSpan.FromSeconds(30)); // released: at once, no waiting for expiry
        Assert.NotNull(second);
        Assert.True(second.FencingToken > first.FencingToken, $"token {second.FencingToken} after {first.FencingToken}");
        await second.DisposeAsync();
    }

    [Fact]
    public async Task AHolderThatStopsRenewingIsReplacedAfterExpiryAndCannotCommit()
    {
        var name = "test." + Guid.NewGuid().ToString("N")[..8];
        var (dead, alive) = (NewHost(), NewHost());
        var stale = await dead.TryAcquireAsync(name, TimeSpan.FromSeconds(2));
        Assert.NotNull(stale);

        // The holder "dies": it never renews. Nobody breaks the lock; it expires by itself.
        var started = DateTime.UtcNow;
        ILease? taken = null;
        while (taken is null && DateTime.UtcNow - started < TimeSpan.FromSeconds(20))
        {
            taken = await alive.TryAcquireAsync(name, TimeSpan.FromSeconds(30));
            await Task.Delay(200);
        }

        Assert.NotNull(taken);
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(1.5), "taken over before the lease expired");
        Assert.True(taken.FencingToken > stale.FencingToken);
        Assert.True(stale.Lost.IsCancellationRequested);
        await Assert.ThrowsAsync<LeaseLostException>(() => stale.EnsureHeldAsync());
        Assert.False(await stale.RenewAsync());
        await taken.EnsureHeldAsync();
        await taken.DisposeAsync();
        await stale.DisposeAsync();
    }
}

/// <summary>The storage lease on the local store.</summary>
public sealed class StorageLeaseTests : LeaseContractTests, IDisposable
{
    private readonly TestHost _host = new();

    public void Dispose() => _host.Dispose();

    private protected override ILeaseProvider NewHost() =>
        new StorageLeaseProvider(_host.Storage, null, TimeProvider.System, new StorageLeaseOptions { MaxClockSkew = TimeSpan.FromMilliseconds(200) });

    [Fact]
    public async Task AFencedHolderCannotCommitABackupAndLeavesNothing()
    {
        var stale = await NewHost().TryAcquireAsync("job.database-backup", TimeSpan.FromSeconds(1));
        Assert.NotNull(stale);

        // Another host takes over only after it has itself seen the stale record unchanged for its duration plus the skew.
        var taker = NewHost();
        Assert.Null(await taker.TryAcquireAsync("job.database-backup", TimeSpan.FromSeconds(30)));
        await Task.Delay(1500);
        var current = await taker.TryAcquireAsync("job.database-backup", TimeSpan.FromSeconds(30));
        Assert.NotNull(current);

        var request = new BackupRequest { BeforeCommit = ct => new ValueTask(stale.EnsureHeldAsync(ct)) };
        var error = await Assert.ThrowsAsync<LeaseLostException>(async () => await _host.Backups.RunAsync(TestHost.BytesSource([1, 2, 3], 10), request));

        Assert.Contains("no longer held", error.Message);
        await foreach (var _ in _host.Catalog.ListAsync())
        {
            Assert.Fail("a fenced holder committed a backup");
        }

        Assert.False(Directory.Exists(Path.Combine(_host.Root, "backups")) && Directory.EnumerateFiles(Path.Combine(_host.Root, "backups"), "*", SearchOption.AllDirectories).Any(), "the fenced run left objects behind");
        await current.DisposeAsync();
    }

    [Fact]
    public async Task ThreeHostsRunEachScheduledTimeExactlyOnce() =>
        await CompetitionTests.RunAsync(JobLeaseKind.Storage, null);

    [Fact]
    public async Task AnotherHostRunsTheTimeAHolderDiedDuring() =>
        await CompetitionTests.TakeOverAsync(JobLeaseKind.Storage, null);
}

/// <summary>The PostgreSQL advisory-lock lease against the real server.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlLeaseTests(PostgresFixture postgres) : LeaseContractTests
{
    private protected override ILeaseProvider NewHost() => new PostgreSqlLeaseProvider(postgres.Connection);

    [Fact]
    public async Task ThreeHostsRunEachScheduledTimeExactlyOnce() =>
        await CompetitionTests.RunAsync(JobLeaseKind.Registered, services => services.AddSingleton<ILeaseProvider>(new PostgreSqlLeaseProvider(postgres.Connection)));

    [Fact]
    public async Task AnotherHostRunsTheTimeAHolderDiedDuring() =>
        await CompetitionTests.TakeOverAsync(JobLeaseKind.Registered, services => services.AddSingleton<ILeaseProvider>(new PostgreSqlLeaseProvider(postgres.Connection)));
}

/// <summary>Three hosts (three service providers over one store) running the same schedule on the real clock.</summary>
internal static class CompetitionTests
{
    internal static async Task RunAsync(JobLeaseKind lease, Action<IServiceCollection>? services)
    {
        var root = Directory.CreateTempSubdirectory("hmb-hosts-").FullName;
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var runs = new ConcurrentQueue<(DateTimeOffset ScheduledAt, string Host)>();
        var hosts = new List<TestHost>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var job = new RecordingJob("every-two-seconds") { HostName = $"host{i}" };
                job.OnRun = context => runs.Enqueue((context.ScheduledAt, job.HostName));
                hosts.Add(Host(job, new JobSchedule { Cron = "*/2 * * * * *" }, TimeProvider.System, lease, root, key, services));
            }

            foreach (var host in hosts)
            {
                await host.Scheduler().StartAsync(CancellationToken.None);
            }

            await Task.Delay(TimeSpan.FromSeconds(9));
            foreach (var host in hosts)
            {
                await host.Scheduler().StopAsync(CancellationToken.None);
            }

            var byTime = runs.GroupBy(r => r.ScheduledAt).ToList();
            Assert.True(byTime.Count >= 3, $"only {byTime.Count} scheduled times ran");
            Assert.All(byTime, g => Assert.True(g.Count() == 1, $"{g.Key:O} ran {g.Count()} times: {string.Join(", ", g.Select(r => r.Host))}"));
        }
        finally
        {
            foreach (var host in hosts)
            {
                host.Dispose();
            }

            Directory.Delete(root, true);
        }
    }

    internal static async Task TakeOverAsync(JobLeaseKind lease, Action<IServiceCollection>? services)
    {
        var root = Directory.CreateTempSubdirectory("hmb-takeover-").FullName;
        try
        {
            var job = new RecordingJob("hourly");
            using var host = Host(job, new JobSchedule { Cron = "0 * * * *" }, TimeProvider.System, lease, root, null, services);
            var leases = lease == JobLeaseKind.Storage
                ? LeaseProviders.Storage(host.Services.GetRequiredService<BackupEnvironment>()) // sealed with the hosts' key
                : host.Services.GetRequiredService<ILeaseProvider>();

            // A host took the job's lease for this run and died without renewing or recording it. (A storage lease
            // lasts at least twice its 2 s skew allowance.)
            var dead = await leases.TryAcquireAsync("job.hourly", TimeSpan.FromSeconds(4));
            Assert.NotNull(dead);
            var started = DateTime.UtcNow;
            var run = await RunWaitingAsync(host.Scheduler());

            Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(3.5), "ran before the dead holder's lease expired");
            Assert.Equal(JobOutcome.Succeeded, run.Outcome);
            Assert.True(run.FencingToken > dead.FencingToken);
            Assert.Single(job.Runs);
            await Assert.ThrowsAsync<LeaseLostException>(() => dead.EnsureHeldAsync());
            await dead.DisposeAsync();
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    /// <summary>RunNow does not wait for a held lease, so retry it the way a scheduled run waits.</summary>
    private static async Task<JobRun> RunWaitingAsync(JobScheduler scheduler)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (await scheduler.RunNowAsync("hourly") is { } run)
            {
                return run;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the lease never became free");
    }
}
