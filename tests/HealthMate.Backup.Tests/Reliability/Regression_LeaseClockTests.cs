using System.Globalization;
using System.Text;
using HealthMate.Backup.Leases;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 14, defect 6: the storage lease compared absolute wall-clock times (the holder's <c>expiresAt</c> against the
/// taker's clock plus a 2 s skew allowance), so a clock step or a VM pause longer than the allowance gave two holders,
/// and its records were plain JSON that anyone with write access could forge. Now the holder times its lease on its
/// own monotonic clock from just before each write, a taker waits until it has itself seen the newest record unchanged
/// for the record's duration plus the allowance, and records are sealed with an HMAC. Two hosts over one store, each
/// with its own clocks, stepped one second at a time; the lease lasts 9 s and is renewed every 3 s.
/// </summary>
public sealed class Regression_LeaseClockTests : IDisposable
{
    private const string Name = "failover.database";
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(9);
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly TestHost _store = new();
    private readonly FakeLogCollector _logs = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public async Task TheTakersWallClockStepsForward_ItNeverGetsTheLeaseWhileTheHolderRenews()
    {
        var (a, b) = (NewHost(), NewHost());
        var holder = new Holder(a, await AcquireAsync(a));
        ILease? taken = null;
        for (var second = 1; second <= 60; second++)
        {
            Tick(a, b);
            if (second == 5)
            {
                b.WallStep = TimeSpan.FromSeconds(10);
            }

            await holder.TickAsync();
            taken ??= await b.Leases.TryAcquireAsync(Name, Duration);
            Assert.False(taken is not null && holder.BelievesHeld, $"two holders at second {second}");
        }

        Assert.Null(taken);
        Assert.True(holder.BelievesHeld);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AVmPauseOnTheHolder_ItKnowsItLostTheLeaseBeforeItActsOnIt(bool clockCatchesUp)
    {
        var (a, b) = (NewHost(), NewHost());
        var holder = new Holder(a, await AcquireAsync(a));
        ILease? taken = null;
        int? takenAt = null;
        for (var second = 1; second <= 40; second++)
        {
            // The holder's VM is paused from second 8 to 22: its clocks do not move, it does nothing.
            var paused = second is >= 8 and < 23;
            b.Advance(TimeSpan.FromSeconds(1));
            if (!paused)
            {
                a.Advance(TimeSpan.FromSeconds(second == 23 && clockCatchesUp ? 16 : 1));
                if (second == 23 && clockCatchesUp)
                {
                    Assert.False(holder.BelievesHeld, "the holder's clock caught up but its lease did not end");
                }

                await holder.TickAsync();
            }

            if (taken is null && (taken = await b.Leases.TryAcquireAsync(Name, Duration)) is not null)
            {
                takenAt = second;
            }

            if (taken is not null && !paused && holder.BelievesHeld)
            {
                // The fence every commit passes: the store shows the newer grant.
                await Assert.ThrowsAsync<LeaseLostException>(() => holder.Lease.EnsureHeldAsync());
                Assert.False(holder.BelievesHeld, $"two holders at second {second}");
            }
        }

        Assert.NotNull(taken);
        Assert.True(takenAt >= 6 + 11, $"taken at second {takenAt}; the holder's last renewal was at 6 (duration 9 s + skew 2 s)");
        Assert.True(taken.FencingToken > holder.Lease.FencingToken);
    }

    [Fact]
    public async Task TheHoldersWallClockStepsBack_ItsLeaseIsNotExtended()
    {
        var (a, b) = (NewHost(), NewHost());
        var holder = new Holder(a, await AcquireAsync(a));
        ILease? taken = null;
        int? lostAt = null, takenAt = null;
        for (var second = 1; second <= 30; second++)
        {
            Tick(a, b);
            if (second == 4)
            {
                a.WallStep = TimeSpan.FromSeconds(-10);
            }

            await holder.TickAsync();
            if (second == 6)
            {
                holder.Renewing = false; // renewed at 6 (after the step), then never again
            }

            if (second == 7)
            {
                // ExpiresAt is for display: the holder's wall clock plus what is left on its monotonic clock.
                Assert.Equal(a.GetUtcNow() + TimeSpan.FromSeconds(6), holder.Lease.ExpiresAt);
            }

            lostAt ??= holder.BelievesHeld ? null : second;
            if (taken is null && (taken = await b.Leases.TryAcquireAsync(Name, Duration)) is not null)
            {
                takenAt = second;
            }

            Assert.False(taken is not null && holder.BelievesHeld, $"two holders at second {second}");
        }

        Assert.Equal(6 + 9 - 2, lostAt);
        Assert.Equal(6 + 9 + 2, takenAt);
    }

    [Fact]
    public async Task AReleasedLeaseIsTakenAtOnce()
    {
        var (a, b) = (NewHost(), NewHost());
        var lease = await AcquireAsync(a);
        Tick(a, b);
        await lease.DisposeAsync();

        var next = await b.Leases.TryAcquireAsync(Name, Duration);

        Assert.NotNull(next);
        Assert.True(next.FencingToken > lease.FencingToken);
    }

    [Fact]
    public async Task ACrashedHoldersLease_IsTakenAfterDurationPlusSkewOfTheTakersOwnObservation()
    {
        var (a, b) = (NewHost(), NewHost());
        var crashed = await AcquireAsync(a); // never renews
        int? lostAt = null, takenAt = null;
        for (var second = 1; second <= 30 && takenAt is null; second++)
        {
            Tick(a, b);
            lostAt ??= crashed.Lost.IsCancellationRequested ? second : null;
            if (second >= 5 && await b.Leases.TryAcquireAsync(Name, Duration) is { } taken)
            {
                takenAt = second;
                Assert.True(taken.FencingToken > crashed.FencingToken);
            }
        }

        Assert.Equal(9 - 2, lostAt);
        Assert.Equal(5 + 9 + 2, takenAt); // first seen at 5, however old the record's wall-clock time says it is
    }

    [Fact]
    public async Task AForgedGrant_IsNotAGrant()
    {
        var b = NewHost();
        await ForgeAsync(1, Start.AddYears(10), released: false);
        int? takenAt = null;
        ILease? taken = null;
        for (var second = 0; second <= 30 && taken is null; second++)
        {
            if (second > 0)
            {
                b.Advance(TimeSpan.FromSeconds(1));
            }

            if ((taken = await b.Leases.TryAcquireAsync(Name, Duration)) is not null)
            {
                takenAt = second;
            }
        }

        Assert.Equal(9 + 2, takenAt); // the record of an unknown writer holds for at most the duration asked for
        Assert.Equal(2, taken!.FencingToken);
        Assert.Contains(_logs.GetSnapshot(), r => r.Message.Contains("cannot be authenticated", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AForgedReleaseAboveALiveHolder_IsNotARelease_AndTheHolderTreatsItsLeaseAsLost()
    {
        var (a, b) = (NewHost(), NewHost());
        var holder = await AcquireAsync(a);
        Tick(a, b);
        await ForgeAsync(2, Start.AddDays(-1), released: true);

        Assert.Null(await b.Leases.TryAcquireAsync(Name, Duration));
        var lost = await Assert.ThrowsAsync<LeaseLostException>(() => holder.EnsureHeldAsync());
        Assert.Contains("cannot be authenticated", lost.Message, StringComparison.Ordinal);
        Assert.False(await holder.RenewAsync());

        int? takenAt = null;
        for (var second = 2; second <= 30 && takenAt is null; second++)
        {
            Tick(a, b);
            if (await b.Leases.TryAcquireAsync(Name, Duration) is { } taken)
            {
                takenAt = second;
                Assert.Equal(3, taken.FencingToken);
            }
        }

        Assert.Equal(1 + 9 + 2, takenAt);
    }

    [Fact]
    public async Task ATamperedRecord_IsNotBelieved()
    {
        var (a, b) = (NewHost(), NewHost());
        var holder = new Holder(a, await AcquireAsync(a)) { Renewing = false }; // busy: its lease runs to 9 - 2 s

        // One byte changed so that, if believed, the record would end sooner: its duration (9 s -> 1 s), or in records
        // without one, its expiry time (2030 -> 2010).
        var bytes = await _store.Storage.ReadSmallAsync(Key(1), 64 * 1024, CancellationToken.None);
        var text = Encoding.UTF8.GetString(bytes);
        var at = text.IndexOf("\"durationMs\":9000", StringComparison.Ordinal) is var d and >= 0
            ? d + "\"durationMs\":".Length
            : text.IndexOf("\"expiresAt\":\"2030", StringComparison.Ordinal) + "\"expiresAt\":\"20".Length;
        Assert.True(at > 20);
        bytes[at] = (byte)'1';
        await _store.Storage.DeleteAsync(Key(1));
        Assert.True(await _store.Storage.PutIfAbsentAsync(Key(1), bytes));

        int? takenAt = null;
        for (var second = 1; second <= 30 && takenAt is null; second++)
        {
            Tick(a, b);
            if (await b.Leases.TryAcquireAsync(Name, Duration) is not null)
            {
                takenAt = second;
            }

            Assert.False(takenAt is not null && holder.BelievesHeld, $"two holders at second {second}");
        }

        Assert.Equal(1 + 9 + 2, takenAt); // held by an unknown writer: the taker's own duration + skew of observation
        Assert.Contains(_logs.GetSnapshot(), r => r.Message.Contains("cannot be authenticated", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnAuthenticReleaseReplayedAboveALaterHolder_IsNotARelease()
    {
        var (a, b) = (NewHost(), NewHost());
        await (await AcquireAsync(a)).DisposeAsync();
        var release = await _store.Storage.ReadSmallAsync(Key(2), 64 * 1024, CancellationToken.None);
        Tick(a, b);
        var holder = new Holder(a, await AcquireAsync(a));
        Assert.Equal(3, holder.Lease.FencingToken);
        Assert.True(await _store.Storage.PutIfAbsentAsync(Key(4), release));

        Assert.Null(await b.Leases.TryAcquireAsync(Name, Duration));
        await Assert.ThrowsAsync<LeaseLostException>(() => holder.Lease.EnsureHeldAsync());
    }

    private static void Tick(params Host[] hosts)
    {
        foreach (var host in hosts)
        {
            host.Advance(TimeSpan.FromSeconds(1));
        }
    }

    private static async Task<ILease> AcquireAsync(Host host) =>
        await host.Leases.TryAcquireAsync(Name, Duration) ?? throw new InvalidOperationException("the lease was not free");

    private Host NewHost() => new(_store, new FakeLoggerProviderFactory(_logs));

    private string Key(long sequence) =>
        _store.Services.GetRequiredService<BackupEnvironment>().Layout.Prefix + "leases/" + Name + "/" + sequence.ToString("D19", CultureInfo.InvariantCulture);

    /// <summary>Writes a lease record straight to the store, the way anyone with write access but no key could.</summary>
    private async Task ForgeAsync(long sequence, DateTimeOffset expiresAt, bool released)
    {
        var json = string.Create(CultureInfo.InvariantCulture,
            $$"""{"holderId":"mallory","holder":"mallory","token":{{sequence}},"expiresAt":"{{expiresAt:O}}","durationMs":9000,"released":{{(released ? "true" : "false")}},"name":"{{Name}}","sequence":{{sequence}}}""");
        Assert.True(await _store.Storage.PutIfAbsentAsync(Key(sequence), Encoding.UTF8.GetBytes(json)));
    }

    /// <summary>One host: a <see cref="FakeTimeProvider"/> is its monotonic clock and timers; its wall clock can be
    /// stepped apart from it. Its lease provider is built the way the scheduler and the failover coordinator build it.</summary>
    private sealed class Host : TimeProvider
    {
        private readonly FakeTimeProvider _clock = new(Start);

        internal Host(TestHost store, ILoggerFactory logs)
        {
            var shared = store.Services.GetRequiredService<BackupEnvironment>();
            Leases = LeaseProviders.Storage(new BackupEnvironment(Options.Create(shared.Options), shared.Storage, shared.KeyRing, shared.Catalog, shared.Layout, this, logs));
        }

        internal ILeaseProvider Leases { get; }

        /// <summary>Gets or sets how far the wall clock was stepped away from the monotonic clock.</summary>
        internal TimeSpan WallStep { get; set; }

        public override long TimestampFrequency => _clock.TimestampFrequency;

        public override DateTimeOffset GetUtcNow() => _clock.GetUtcNow() + WallStep;

        public override long GetTimestamp() => _clock.GetTimestamp();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            _clock.CreateTimer(callback, state, dueTime, period);

        internal void Advance(TimeSpan by) => _clock.Advance(by);
    }

    /// <summary>A holder that renews every third of the duration by its own monotonic clock, as the coordinator does.</summary>
    private sealed class Holder(Host host, ILease lease)
    {
        private long _renewed = host.GetTimestamp();

        internal ILease Lease => lease;

        internal bool Renewing { get; set; } = true;

        /// <summary>Gets whether the holder, by its own view, holds the lease.</summary>
        internal bool BelievesHeld => !lease.Lost.IsCancellationRequested;

        internal async Task TickAsync()
        {
            if (Renewing && BelievesHeld && host.GetElapsedTime(_renewed) >= Duration / 3)
            {
                _renewed = host.GetTimestamp();
                await lease.RenewAsync();
            }
        }
    }
}
