using System.Diagnostics;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Tests.Support;
using Npgsql;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>The partition tests' own infrastructure works: <see cref="TcpLink"/>, <see cref="PostgresCluster"/> and
/// <see cref="AckChecker"/>, against real PostgreSQL 15 servers on loopback.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PartitionInfrastructureTests(PostgresFixture postgres)
{
    [Fact]
    public async Task TcpLink_forwards_cuts_at_once_black_holes_silently_delays_and_heals()
    {
        await using var link = TcpLink.Start(postgres.Connection.Port, "test→postgres");
        var through = postgres.Connection.With(port: link.Port);

        // Pass: a query through the link is answered.
        await using var parked = await OpenAsync(through, timeoutSeconds: 5);
        Assert.Equal(1, await ScalarAsync(parked, "SELECT 1"));
        Assert.Equal(1, link.ConnectionsAccepted);

        // Cut: the open connection and a new one fail at once, well within their 5 s timeouts.
        link.Cut();
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => ScalarAsync(parked, "SELECT 1"));
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => OpenAsync(through, timeoutSeconds: 5));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"a cut link failed only after {clock.ElapsedMilliseconds} ms");

        // Heal, then BlackHole: a new connection hangs until its 1 s timeout, a query on an open one until its
        // command timeout; a third connection, left idle, stays open (silenced) until the heal resets it.
        link.Heal();
        await using var quiet = await OpenAsync(through, timeoutSeconds: 1);
        await using var idle = await OpenAsync(through, timeoutSeconds: 1);
        link.BlackHole();
        clock.Restart();
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => OpenAsync(through, timeoutSeconds: 1));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(900), $"a black-holed connect failed after {clock.ElapsedMilliseconds} ms, not by timing out");
        clock.Restart();
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => ScalarAsync(quiet, "SELECT 1", commandTimeoutSeconds: 1));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(900), $"a black-holed query failed after {clock.ElapsedMilliseconds} ms, not by timing out");
        Assert.Equal(System.Data.ConnectionState.Open, idle.State);

        link.Heal();
        await using (var healed = await OpenAsync(through, timeoutSeconds: 1))
        {
            Assert.Equal(1, await ScalarAsync(healed, "SELECT 1"));
        }

        clock.Restart();
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => ScalarAsync(idle, "SELECT 1", commandTimeoutSeconds: 5));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), "the heal did not reset the silenced connection");

        // Delay: each chunk waits 200 ms, so a round trip takes 400 ms (less the timers' millisecond granularity).
        await using var slow = await OpenAsync(through, timeoutSeconds: 5);
        link.Delay(TimeSpan.FromMilliseconds(200));
        clock.Restart();
        Assert.Equal(1, await ScalarAsync(slow, "SELECT 1"));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(390), $"a delayed round trip took {clock.ElapsedMilliseconds} ms");
        link.Heal();
        Assert.Equal(1, await ScalarAsync(slow, "SELECT 1"));
        Assert.True(link.ConnectionsAccepted >= 7, $"{link.ConnectionsAccepted} connections accepted");
    }

    [Fact]
    public async Task PostgresCluster_streams_through_its_links_and_AckChecker_sees_one_writable_primary_then_none()
    {
        var clock = Stopwatch.StartNew();
        await using var cluster = await PostgresCluster.StartAsync(synchronous: true);
        var startup = clock.Elapsed;

        // The roles, seen directly (the primary commits when either standby has the commit: 'ANY 1 (*)') and through the coordinator's links; both standbys stream through their links.
        Assert.False(await cluster.IsInRecoveryAsync(ClusterNode.Primary));
        Assert.True(await cluster.IsInRecoveryAsync(ClusterNode.Standby1));
        Assert.Equal("ANY 1 (*)", await cluster.ScalarAsync<string>(ClusterNode.Primary, "SHOW synchronous_standby_names"));
        await using (var viaCoordinator = await OpenAsync(cluster.Coordinator(ClusterNode.Standby2), timeoutSeconds: 2))
        {
            Assert.True(await ScalarAsync<bool>(viaCoordinator, "SELECT pg_is_in_recovery()"));
        }

        Assert.Equal(1, cluster.CoordinatorLink(ClusterNode.Standby2).ConnectionsAccepted);
        foreach (var standby in new[] { ClusterNode.Standby1, ClusterNode.Standby2 })
        {
            Assert.True(await cluster.IsStreamingAsync(standby));
            Assert.True(cluster.ReplicationLink(standby).OpenConnections >= 1);
        }

        // A silent partition of standby1's replication: its WAL receiver gives up within seconds (wal_receiver_timeout),
        // the primary's WAL sender too (wal_sender_timeout); standby2 streams on. The heal brings standby1 back.
        PostgresCluster.Partition(LinkMode.BlackHole, cluster.ReplicationLink(ClusterNode.Standby1));
        clock.Restart();
        await PostgresPair.WaitAsync(async () => await cluster.ScalarAsync<long>(ClusterNode.Standby1, "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'") == 0, "standby1 to stop streaming", seconds: 10);
        var noticed = clock.Elapsed;
        Assert.True(await cluster.IsStreamingAsync(ClusterNode.Standby2));
        await PostgresPair.WaitAsync(async () => await cluster.ScalarAsync<long>(ClusterNode.Primary, "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby1'") == 0, "the primary to drop standby1", seconds: 10);
        cluster.Heal();
        clock.Restart();
        await cluster.WaitStreamingAsync(seconds: 10);
        var healed = clock.Elapsed;

        // The checker: the writer is acknowledged by the primary through the client links; one server takes writes.
        await using var checker = await AckChecker.StartAsync(cluster, cluster.ClientConnectionString(TargetSessionAttributes.Primary));
        await checker.WaitForAcknowledgedAsync(50, TimeSpan.FromSeconds(15));
        await checker.WaitForRoundAsync(_ => true, TimeSpan.FromSeconds(5), "a sampler round");
        Assert.All(checker.Acknowledged, a => Assert.Equal(ClusterNode.Primary, a.Node));
        Assert.All(checker.Rounds, r => Assert.Equal(new[] { ClusterNode.Primary }, r.Accepted));

        // Both replication links silenced: the synchronous primary commits a probe only locally, when the probe's command
        // timeout cancels the wait for a standby, so the sampler counts no server that takes writes; the heal ends it.
        PostgresCluster.Partition(LinkMode.BlackHole, cluster.ReplicationLink(ClusterNode.Standby1), cluster.ReplicationLink(ClusterNode.Standby2));
        var stalled = await checker.WaitForRoundAsync(r => r.Accepted.Count == 0, TimeSpan.FromSeconds(5), "a round where the primary cannot acknowledge");
        Assert.Equal(new[] { ClusterNode.Primary }, stalled.CommittedLocally);
        cluster.Heal();
        await cluster.WaitStreamingAsync(seconds: 10);
        await checker.WaitForRoundAsync(r => r.Accepted.SequenceEqual([ClusterNode.Primary]), TimeSpan.FromSeconds(5), "the primary to acknowledge writes again");

        // The primary cut off from everyone: no server takes writes (the standbys stay in recovery).
        cluster.Isolate(ClusterNode.Primary, LinkMode.Cut);
        var cutAt = DateTimeOffset.UtcNow;
        await checker.WaitForRoundAsync(r => r.Accepted.Count == 0 && r.CommittedLocally.Count == 0, TimeSpan.FromSeconds(5), "a round with no writable server");
        await checker.WaitForRoundAsync(r => r.At > cutAt.AddMilliseconds(500), TimeSpan.FromSeconds(5), "a later round");
        await checker.StopAsync();
        Assert.All(checker.Rounds.Where(r => r.At > cutAt), r => Assert.Empty(r.Accepted));
        Assert.All(checker.Rounds, r => Assert.True(r.Accepted.Count + r.CommittedLocally.Count <= 1));
        Assert.Equal(1, checker.MaxAccepting);
        Assert.Empty(checker.SplitBrainAt);
        Assert.True(checker.Failures > 0);
        Assert.Empty(await checker.LostAsync(ClusterNode.Primary));

        // A crash is a crash: the primary no longer answers even directly.
        await cluster.CrashPrimaryAsync();
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => cluster.IsInRecoveryAsync(ClusterNode.Primary));

        Console.WriteLine($"partition infrastructure: cluster up in {startup.TotalMilliseconds:0} ms; black-holed replication noticed in {noticed.TotalMilliseconds:0} ms, streaming again {healed.TotalMilliseconds:0} ms after the heal; {checker.Acknowledged.Count} acknowledged ({checker.Acknowledged.Count(a => a.Unreplicated)} with the unreplicated warning), {checker.Failures} failed attempts, {checker.Rounds.Count} rounds");
    }

    private static async Task<NpgsqlConnection> OpenAsync(PostgreSqlConnectionOptions node, int timeoutSeconds)
    {
        var connection = node.OpenConnection("postgres", timeoutSeconds);
        try
        {
            await connection.OpenAsync();
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static Task<int> ScalarAsync(NpgsqlConnection connection, string sql, int commandTimeoutSeconds = 5) =>
        ScalarAsync<int>(connection, sql, commandTimeoutSeconds);

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, int commandTimeoutSeconds = 5)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = commandTimeoutSeconds };
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
