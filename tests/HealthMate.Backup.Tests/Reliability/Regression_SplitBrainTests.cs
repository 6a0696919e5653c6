using System.Collections.Concurrent;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using HealthMate.Backup.Recovery;
using HealthMate.Backup.Tests.DR;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 14's defects, one test each, against real PostgreSQL 15 (or, for the coordinator's own decisions, a probe and
/// strategy the test controls). Each failed on the code before the fix.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class Regression_SplitBrainTests
{
    /// <summary>Defect 2: a "fenced" primary still acknowledged a commit from a session that insisted (BEGIN READ WRITE,
    /// synchronous_commit overridden per role), and took new logins.</summary>
    [Fact]
    public async Task A_fenced_primary_acknowledges_no_commit_even_to_a_session_that_overrides_the_settings()
    {
        await using var pair = await PostgresPair.StartAsync();
        await using var host = new DrHost(pair.FailoverOptions());
        await pair.ExecuteAsync(pair.Primary, "CREATE TABLE t (x int); CREATE ROLE tuned LOGIN PASSWORD 'tuned-password-123' ; GRANT ALL ON t TO tuned; ALTER ROLE tuned SET synchronous_commit = off; ALTER ROLE tuned SET default_transaction_read_only = off");
        await host.Monitor.ProbeNowAsync("database");

        var decision = await host.Coordinator.FailOverAsync("database", "planned switchover", "operator");
        Assert.True(decision.Outcome == FailoverOutcome.FailedOver, decision.Reason);

        // Whoever logs in to the old primary, with whatever settings, gets no acknowledged commit.
        foreach (var (user, password) in new[] { (pair.Primary.Username!, pair.Primary.Password!), ("tuned", "tuned-password-123") })
        {
            var builder = new NpgsqlConnectionStringBuilder(pair.Primary.OpenConnection("postgres").ConnectionString) { Username = user, Password = password, Timeout = 2, CommandTimeout = 2 };
            var acknowledged = await TryCommitAsync(builder.ConnectionString, "BEGIN READ WRITE; SET LOCAL synchronous_commit = local; INSERT INTO t VALUES (1); COMMIT;");
            Assert.False(acknowledged, $"{user}'s commit was acknowledged by the fenced old primary");
        }

        Assert.Equal(0L, await pair.ScalarAsync<long>(pair.Standby, "SELECT count(*) FROM t"));
    }

    /// <summary>Defect 2: the default client connection string wanted any server not in recovery, so clients stayed on
    /// a fenced primary that was still listed first.</summary>
    [Fact]
    public void The_default_client_connection_string_wants_a_read_write_server()
    {
        var options = new HealthMate.Backup.PostgreSql.PostgreSqlFailoverOptions
        {
            Primary = new() { Host = "127.0.0.1", Port = 5432, Username = "app", Password = "secret-password" },
            Standbys = [new() { Host = "127.0.0.1", Port = 5433, Username = "app", Password = "secret-password" }],
        };
        var builder = new NpgsqlConnectionStringBuilder(options.ClientConnectionString("app"));
        Assert.Equal("read-write", builder.TargetSessionAttributes);
    }

    /// <summary>Defect 7: a primary made read-only on purpose was treated as fenced, declared down and failed over.</summary>
    [Fact]
    public async Task A_primary_made_read_only_for_maintenance_is_up_and_never_failed_over()
    {
        await using var pair = await PostgresPair.StartAsync();
        await using var host = await new DrHost(pair.FailoverOptions()).StartAsync();
        var decisions = new ConcurrentQueue<FailoverDecision>();
        host.Coordinator.Decided += (_, d) => decisions.Enqueue(d);
        await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("database")?.State == ComponentState.Up), "the monitor to see the primary");

        await pair.ExecuteAsync(pair.Primary, "ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf();");
        var seen = 0;
        await PostgresPair.WaitAsync(async () => (await host.Monitor.ProbeNowAsync("database")).Last?.Description.Contains("read-only", StringComparison.Ordinal) == true && ++seen >= 4, "four probes of the read-only primary");

        var status = host.Monitor.GetStatus("database")!;
        Assert.NotEqual(ComponentState.Down, status.State);
        Assert.Equal(ProbeStatus.Degraded, status.Last!.Status);
        Assert.Empty(decisions);
        var automatic = await host.Strategy.FailOverAsync(new FailoverRequest { Reason = "the monitor says so" });
        Assert.True(automatic.Refused, automatic.Description);
        Assert.True(await pair.ScalarAsync<bool>(pair.Standby, "SELECT pg_is_in_recovery()"));
    }

    /// <summary>Defect 5: the strategy fenced and promoted a primary that answered and took writes, on an automatic request.</summary>
    [Fact]
    public async Task An_automatic_request_never_replaces_a_primary_that_answers_and_takes_writes()
    {
        await using var pair = await PostgresPair.StartAsync();
        await using var host = new DrHost(pair.FailoverOptions());
        await host.Monitor.ProbeNowAsync("database");

        var result = await host.Strategy.FailOverAsync(new FailoverRequest { Reason = "a stale 'down' from the monitor" });

        Assert.True(result.Refused, result.Description);
        Assert.Contains("takes writes", result.Description, StringComparison.Ordinal);
        Assert.True(await pair.ScalarAsync<bool>(pair.Standby, "SELECT pg_is_in_recovery()"));
        Assert.Equal("off", await pair.ScalarAsync<string>(pair.Primary, "SHOW default_transaction_read_only"));
    }

    /// <summary>Defect 3: a restarted host went back to the configured primary and adopted an old primary that came back unfenced.</summary>
    [Fact]
    public async Task A_restarted_host_follows_the_recorded_primary_and_never_adopts_the_old_one_that_came_back()
    {
        await using var pair = await PostgresPair.StartAsync();
        var root = Directory.CreateTempSubdirectory("hmb-dr-").FullName;
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        try
        {
            // 3 s to answer, not 1: a single manual failover refuses at once if a standby is slow to accept a login, as
            // one was once in a full run on two busy cores.
            var options = pair.FailoverOptions(o => o.ConnectTimeout = TimeSpan.FromSeconds(3));
            await using (var first = new DrHost(options, root: root, key: key))
            {
                await first.Monitor.ProbeNowAsync("database");
                await pair.CrashPrimaryAsync();
                var decision = await first.Coordinator.FailOverAsync("database", "primary crashed", "operator");
                Assert.True(decision.Outcome == FailoverOutcome.FailedOver, decision.Reason);
            }

            // The old primary is started again, unfenced and writable, before any host looked at it; then a host restarts.
            await pair.RestartPrimaryAsync();
            await using var restarted = new DrHost(options, root: root, key: key);
            var probe = await restarted.Monitor.ProbeNowAsync("database");

            Assert.Equal(pair.Standby.Port, restarted.Strategy.CurrentPrimary.Port);
            Assert.Contains($"primary {pair.Standby}", probe.Last!.Description, StringComparison.Ordinal);
            Assert.Equal($"{pair.Standby.Host}:{pair.Standby.Port}", restarted.Endpoints.Get("database")?.Address);
            await PostgresPair.WaitAsync(async () => (await restarted.Monitor.ProbeNowAsync("database")).Last!.Description.Contains("came back as a primary and was fenced", StringComparison.Ordinal), "the returned old primary to be fenced");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Defect 5: an approval granted after the component recovered still failed it over.</summary>
    [Fact]
    public async Task An_approval_granted_after_the_component_recovered_fails_nothing_over()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"hm-hook-{Guid.NewGuid():N}");
        var probe = new AutomaticFailoverTests.SwitchProbe("application");
        await using var host = await AutomaticFailoverTests.Host(probe, marker, approval: true).StartAsync();
        var decisions = new ConcurrentQueue<FailoverDecision>();
        host.Coordinator.Decided += (_, d) => decisions.Enqueue(d);
        var gate = host.Services.GetRequiredService<IApprovalGate>();
        try
        {
            await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("application")?.State == ComponentState.Up), "the component up");
            probe.Up = false;
            await PostgresPair.WaitAsync(() => Task.FromResult(gate.Pending.Count == 1), "the approval request");
            probe.Up = true;
            await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("application")?.State == ComponentState.Up), "the component back up");

            Assert.True(gate.Approve(gate.Pending[0].Id, "alice"));
            await PostgresPair.WaitAsync(() => Task.FromResult(!decisions.IsEmpty), "the decision");

            var decision = Assert.Single(decisions);
            Assert.Equal(FailoverOutcome.Recovered, decision.Outcome);
            Assert.False(File.Exists(marker), "the failover hook ran after the component had recovered");
        }
        finally
        {
            File.Delete(marker);
        }
    }

    /// <summary>Defect 5: a strategy that threw after it may have promoted wrote no record, so there was no cooldown and
    /// the next decision ran the strategy again (a second standby promoted).</summary>
    [Fact]
    public async Task A_failover_attempt_that_throws_is_recorded_and_starts_the_cooldown()
    {
        var probe = new AutomaticFailoverTests.SwitchProbe("application");
        var strategy = new ThrowingStrategy("application");
        await using var host = await AutomaticFailoverTests.Host(probe, Path.Combine(Path.GetTempPath(), $"hm-hook-{Guid.NewGuid():N}"), approval: false, strategy).StartAsync();
        var decisions = new ConcurrentQueue<FailoverDecision>();
        host.Coordinator.Decided += (_, d) => decisions.Enqueue(d);
        await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("application")?.State == ComponentState.Up), "the component up");

        probe.Up = false;
        await PostgresPair.WaitAsync(() => Task.FromResult(decisions.Any(d => d.Outcome == FailoverOutcome.CoolingDown)), "the cooldown after the failed attempt");

        Assert.Equal(1, strategy.Calls);
        var records = await host.Records.ListAsync(DateTimeOffset.UtcNow.AddMinutes(-5)).Where(r => r.Kind == RecoveryKind.Failover).ToListAsync();
        var record = Assert.Single(records);
        Assert.False(record.Succeeded);
        Assert.Contains("did not confirm the promotion", record.Description, StringComparison.Ordinal);
    }

    private static async Task<bool> TryCommitAsync(string connectionString, string sql)
    {
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>A strategy whose promotion is requested and then not confirmed (a promote timeout).</summary>
    private sealed class ThrowingStrategy(string name) : IFailoverStrategy
    {
        private int _calls;

        public string Name => name;

        public int Calls => Volatile.Read(ref _calls);

        public Task<FailoverCheck> CheckAsync(FailoverRequest request, CancellationToken cancellationToken = default) =>
            Task.FromResult(new FailoverCheck(true, "standby ready", new Dictionary<string, object>()));

        public Task<FailoverResult> FailOverAsync(FailoverRequest request, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            throw new TimeoutException("the standby did not confirm the promotion within 60 s");
        }
    }
}
