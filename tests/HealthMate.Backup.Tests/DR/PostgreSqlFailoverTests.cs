using System.Diagnostics;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using HealthMate.Backup.Hooks;
using HealthMate.Backup.Recovery;
using HealthMate.Backup.Tests.Support;
using Npgsql;

namespace HealthMate.Backup.Tests.DR;

/// <summary>Failover against a real PostgreSQL 15 primary and streaming standby on loopback.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlFailoverTests
{
    [Fact]
    public async Task A_crashed_synchronous_primary_is_detected_and_replaced_without_losing_an_acknowledged_commit()
    {
        await using var pair = await PostgresPair.StartAsync(synchronous: true);
        var options = pair.FailoverOptions();
        await using var host = await new DrHost(options).StartAsync();
        var decided = new TaskCompletionSource<FailoverDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Coordinator.Decided += (_, d) => decided.TrySetResult(d);
        await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("database")?.State == ComponentState.Up), "the monitor to see the primary up");

        // The application's own connection string: both servers, the primary wanted.
        await using var writer = await Writer.StartAsync(options.ClientConnectionString("postgres", TargetSessionAttributes.Primary));
        await PostgresPair.WaitAsync(() => Task.FromResult(writer.Acknowledged.Count >= 200), "200 acknowledged writes");
        await host.Monitor.ProbeNowAsync("database"); // the probe has seen the primary commit synchronously to the standby

        var crashedAt = DateTimeOffset.UtcNow;
        await pair.CrashPrimaryAsync();
        var acknowledgedBeforeCrash = writer.Acknowledged.Where(a => a.At < crashedAt).Select(a => a.Id).ToList();

        var decision = await decided.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(decision.Outcome == FailoverOutcome.FailedOver, $"{decision.Outcome}: {decision.Reason}");
        var firstWrite = await writer.FirstAcknowledgedOnAsync($"{pair.Standby.Host}:{pair.Standby.Port}", TimeSpan.FromSeconds(60));
        await writer.StopAsync();

        // Every acknowledged transaction is on the new primary.
        Assert.False(await pair.ScalarAsync<bool>(pair.Standby, "SELECT pg_is_in_recovery()"));
        var present = new HashSet<long>();
        await using (var connection = pair.Standby.OpenConnection("postgres"))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT id FROM acked", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                present.Add(reader.GetInt64(0));
            }
        }

        Assert.NotEmpty(acknowledgedBeforeCrash);
        Assert.DoesNotContain(acknowledgedBeforeCrash, id => !present.Contains(id));
        Assert.All(writer.Acknowledged.Where(a => a.At > firstWrite), a => Assert.Equal($"{pair.Standby.Host}:{pair.Standby.Port}", a.Host));

        // The measured recovery: stored, from the first failed probe to the promoted standby taking writes.
        var record = decision.Record!;
        Assert.Equal(FencingOutcome.Isolated, record.Fencing);
        Assert.True(record.Rto > TimeSpan.Zero && record.Rto < TimeSpan.FromMinutes(15), $"RTO {record.Rto}");
        Assert.Equal(TimeSpan.Zero, record.Rpo);
        Assert.True(record.Compliant);
        var stored = await host.Records.ListAsync(crashedAt.AddMinutes(-1)).ToListAsync();
        Assert.Contains(stored, r => r.Id == record.Id && r.Kind == RecoveryKind.Failover && r.Rto == record.Rto);
        Assert.Contains(await host.Records.ListAuditAsync(crashedAt.AddMinutes(-1)).ToListAsync(), a => a.Action == "failover" && a.Outcome == "FailedOver" && a.Actor == "monitor");
        Assert.Equal($"{pair.Standby.Host}:{pair.Standby.Port}", host.Endpoints.Get("database")?.Address);

        // The monitor sees the component up again, at the new primary.
        await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("database")?.State == ComponentState.Up), "the component to come back up");
        AssertNoSecret(pair, host, decision);

        // Someone starts the crashed old primary again: it comes back as a second primary, and is fenced within seconds.
        await pair.RestartPrimaryAsync();
        await PostgresPair.WaitAsync(async () => (await host.Monitor.ProbeNowAsync("database")).Last!.Description.Contains("came back as a primary and was fenced", StringComparison.Ordinal), "the returned old primary to be fenced");
        await AssertRefusesLoginsAsync(pair.Primary);
        Assert.Equal(ProbeStatus.Degraded, host.Monitor.GetStatus("database")!.Last!.Status);

        Console.WriteLine($"sync failover: first write {(firstWrite - crashedAt).TotalMilliseconds:0} ms after the crash; recorded RTO {record.Rto?.TotalMilliseconds:0} ms; {acknowledgedBeforeCrash.Count} acknowledged before the crash, all present");
    }

    [Fact]
    public async Task Two_monitors_started_together_promote_exactly_once_and_both_follow_the_new_primary()
    {
        await using var pair = await PostgresPair.StartAsync();
        var root = Directory.CreateTempSubdirectory("hmb-dr-").FullName;
        try
        {
            var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
            await using var first = new DrHost(pair.FailoverOptions(), root: root, key: key);
            await using var second = new DrHost(pair.FailoverOptions(), root: root, key: key);
            var decisions = new System.Collections.Concurrent.ConcurrentQueue<(string Host, FailoverDecision Decision)>();
            first.Coordinator.Decided += (_, d) => decisions.Enqueue(("first", d));
            second.Coordinator.Decided += (_, d) => decisions.Enqueue(("second", d));
            await Task.WhenAll(first.StartAsync(), second.StartAsync());
            await PostgresPair.WaitAsync(() => Task.FromResult(first.Monitor.GetStatus("database")?.State == ComponentState.Up && second.Monitor.GetStatus("database")?.State == ComponentState.Up), "both monitors to see the primary");
            await pair.ExecuteAsync(pair.Primary, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)");

            await pair.CrashPrimaryAsync();
            await PostgresPair.WaitAsync(() => Task.FromResult(decisions.Any(d => d.Decision.Outcome == FailoverOutcome.FailedOver)), "a promotion", 60);
            await PostgresPair.WaitAsync(() => Task.FromResult(first.Monitor.GetStatus("database")?.State == ComponentState.Up && second.Monitor.GetStatus("database")?.State == ComponentState.Up), "both monitors to see the new primary", 60);
            await Task.Delay(3000); // the losing decider's retries, if any, have happened

            var promotions = decisions.Where(d => d.Decision.Outcome == FailoverOutcome.FailedOver).ToList();
            Assert.True(promotions.Count == 1, string.Join("\n", decisions.Select(d => $"{d.Host}: {d.Decision.Outcome}: {d.Decision.Reason}")));
            Assert.Single(await first.Records.ListAsync(DateTimeOffset.UtcNow.AddMinutes(-5)).Where(r => r.Kind == RecoveryKind.Failover && r.Succeeded).ToListAsync());
            Assert.Equal(pair.Standby.Port, first.Strategy.CurrentPrimary.Port);
            Assert.Equal(pair.Standby.Port, second.Strategy.CurrentPrimary.Port);
            Assert.Equal(1, await pair.ScalarAsync<int>(pair.Standby, "SELECT x FROM t"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task With_two_standbys_the_other_one_is_pointed_at_the_new_primary_and_can_take_over_next()
    {
        await using var pair = await PostgresPair.StartAsync(standbys: 2);
        var second = pair.SecondStandby!;
        await using var host = new DrHost(pair.FailoverOptions());
        await pair.ExecuteAsync(pair.Primary, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)");
        await host.Monitor.ProbeNowAsync("database");
        await pair.CrashPrimaryAsync();

        var decision = await host.Coordinator.FailOverAsync("database", "primary crashed", "operator");
        Assert.True(decision.Outcome == FailoverOutcome.FailedOver, decision.Reason);
        var promoted = host.Strategy.CurrentPrimary;
        var other = promoted.Port == pair.Standby.Port ? second : pair.Standby;
        var repoint = decision.Result!.Steps.Single(s => s.Name == "re-point-standbys");
        Assert.True(repoint.Succeeded, repoint.Detail);
        Assert.Contains($"re-pointed {other} at {promoted.Host}:{promoted.Port}", repoint.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(pair.Primary.Password!, repoint.Detail, StringComparison.Ordinal);

        // The other standby streams from the new primary, on its timeline, and replays what it writes.
        await PostgresPair.WaitAsync(async () => await pair.ScalarAsync<long>(promoted, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == 1, "the other standby to stream from the new primary");
        await pair.ExecuteAsync(promoted, "INSERT INTO t VALUES (2)");
        await PostgresPair.WaitAsync(async () => await pair.ScalarAsync<long>(other, "SELECT count(*) FROM t") == 2, "the other standby to replay the new primary's write");

        // And it is the candidate for the next failover.
        await host.Monitor.ProbeNowAsync("database");
        var next = await host.Strategy.CheckAsync(new FailoverRequest { Reason = "what if", Manual = true });
        Assert.True(next.CanFailOver, next.Reason);
        Assert.Equal(other.ToString(), next.Data["candidate"]);
    }

    [Fact]
    public async Task A_primary_that_is_only_slow_does_not_trigger_a_failover()
    {
        await using var pair = await PostgresPair.StartAsync();
        await using var host = await new DrHost(pair.FailoverOptions()).StartAsync();
        var changes = new System.Collections.Concurrent.ConcurrentQueue<ComponentStateChange>();
        var decisions = new System.Collections.Concurrent.ConcurrentQueue<FailoverDecision>();
        host.Monitor.StateChanged += (_, c) => changes.Enqueue(c);
        host.Coordinator.Decided += (_, d) => decisions.Enqueue(d);
        await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("database")?.State == ComponentState.Up), "the monitor to see the primary");

        // Frozen until a probe has failed (it waits 1 s for the primary) and 1.2 s more: fewer than the three failures in a row that declare it down.
        pair.SignalPrimary(freeze: true);
        try
        {
            await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("database")?.State == ComponentState.Suspect), "a probe to time out");
            await Task.Delay(1200);
        }
        finally
        {
            pair.SignalPrimary(freeze: false);
        }

        await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("database")?.State == ComponentState.Up), "the primary to be up again");
        await Task.Delay(2000);
        var status = host.Monitor.GetStatus("database")!;
        Assert.Contains(status.History, s => s.Status == ProbeStatus.Unhealthy && s.Description.Contains("no writable primary", StringComparison.Ordinal));
        Assert.DoesNotContain(changes, c => c.Current == ComponentState.Down);
        Assert.Empty(decisions);
        Assert.True(await pair.ScalarAsync<bool>(pair.Standby, "SELECT pg_is_in_recovery()"));
        Assert.False(await pair.ScalarAsync<bool>(pair.Primary, "SELECT pg_is_in_recovery()"));
    }

    [Fact]
    public async Task A_hung_primary_whose_standby_still_streams_is_failed_over_only_once_the_fence_hook_has_stopped_it()
    {
        await using var pair = await PostgresPair.StartAsync();
        var marker = Path.Combine(Path.GetTempPath(), $"hm-fence-{Guid.NewGuid():N}");
        // The infrastructure fence: kill the postmaster (SIGKILL works on a stopped process); its sessions and WAL
        // sender end with it. A real one stops the VM or the container.
        var options = pair.FailoverOptions(o => o.FenceHook = new HookOptions
        {
            Command = new CommandHookOptions { FileName = "/bin/sh", Arguments = ["-c", $"echo \"$HM_ACTION $HM_TARGET $HM_FENCING_TOKEN\" > '{marker}'; kill -9 $(head -1 '{pair.PrimaryData}/postmaster.pid')"] },
        });
        await using var host = await new DrHost(options).StartAsync();
        var decided = new TaskCompletionSource<FailoverDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Coordinator.Decided += (_, d) =>
        {
            if (d.Outcome != FailoverOutcome.Refused)
            {
                decided.TrySetResult(d);
            }
        };
        await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("database")?.State == ComponentState.Up), "the monitor to see the primary");

        // The postmaster stops answering (a hung host) while its WAL sender still streams to the standby: without the
        // fence this host could not tell it from a partition of its own.
        var frozenAt = DateTimeOffset.UtcNow;
        pair.SignalPrimary(freeze: true);
        FailoverDecision decision;
        try
        {
            decision = await decided.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            pair.SignalPrimary(freeze: false);
        }

        try
        {
            Assert.True(decision.Outcome == FailoverOutcome.FailedOver, decision.Reason);
            Assert.Equal(FencingOutcome.Fenced, decision.Result!.Fencing);
            Assert.Matches(@"^fence database:127\.0\.0\.1:\d+ \d+$", (await File.ReadAllTextAsync(marker)).Trim());
            Assert.Contains("fenced by the fence hook", decision.Result.Steps.Single(s => s.Name == "fence").Detail, StringComparison.Ordinal);
            Console.WriteLine($"hung primary: standby writable {(decision.Result.RestoredAt!.Value - frozenAt).TotalMilliseconds:0} ms after the freeze; steps {string.Join(", ", decision.Result.Steps.Select(s => $"{s.Name} {s.Duration.TotalMilliseconds:0} ms"))}");
            Assert.False(await pair.ScalarAsync<bool>(pair.Standby, "SELECT pg_is_in_recovery()"));
            await using var client = new NpgsqlConnection(options.ClientConnectionString("postgres"));
            await client.OpenAsync();
            Assert.Equal(pair.Standby.Port, client.Port);
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task A_standby_behind_the_rpo_budget_or_not_the_synchronous_one_is_refused_with_the_reason_and_nothing_changes()
    {
        await using var pair = await PostgresPair.StartAsync();
        await using var host = new DrHost(pair.FailoverOptions(o => o.RpoBudget = TimeSpan.FromSeconds(1)));
        await host.Monitor.ProbeNowAsync("database");
        var request = new FailoverRequest { Reason = "test", RpoBudget = TimeSpan.FromSeconds(1), Manual = true };
        var eligible = await host.Strategy.CheckAsync(request);
        Assert.True(eligible.CanFailOver, eligible.Reason);

        // The primary commits synchronously to a standby that is not ours: ours may miss acknowledged commits.
        await pair.ExecuteAsync(pair.Primary, "ALTER SYSTEM SET synchronous_standby_names = 'another_standby'; SELECT pg_reload_conf();");
        await PostgresPair.WaitAsync(async () => await pair.ScalarAsync<string>(pair.Primary, "SHOW synchronous_standby_names") == "another_standby", "the setting");
        var notSynchronous = await host.Strategy.CheckAsync(request);
        Assert.False(notSynchronous.CanFailOver);
        Assert.Contains("may miss acknowledged commits", notSynchronous.Reason, StringComparison.Ordinal);
        await pair.ExecuteAsync(pair.Primary, "ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf();");

        // The standby has replayed a commit, then stops receiving; the primary goes on committing for longer than the budget.
        await pair.ExecuteAsync(pair.Primary, "CREATE TABLE early (x int); INSERT INTO early VALUES (1)");
        await PostgresPair.WaitAsync(async () => await pair.ScalarAsync<bool>(pair.Standby, "SELECT to_regclass('early') IS NOT NULL"), "the standby to replay a commit");
        await pair.ExecuteAsync(pair.Standby, "ALTER SYSTEM SET primary_conninfo = ''; SELECT pg_reload_conf();");
        await PostgresPair.WaitAsync(async () => await pair.ScalarAsync<long>(pair.Primary, "SELECT count(*) FROM pg_stat_replication") == 0, "the standby to disconnect");
        await pair.ExecuteAsync(pair.Primary, "CREATE TABLE late (x int); INSERT INTO late VALUES (1)");
        await Task.Delay(2000);
        await pair.ExecuteAsync(pair.Primary, "INSERT INTO late VALUES (2)");

        var lagging = await host.Strategy.CheckAsync(request);
        Assert.False(lagging.CanFailOver);
        Assert.True(lagging.Reason.Contains("over the RPO budget of 1 s", StringComparison.Ordinal), lagging.Reason);
        var attempt = await host.Strategy.FailOverAsync(request);
        Assert.False(attempt.Succeeded);
        Assert.Equal(FencingOutcome.NotAttempted, attempt.Fencing);
        Assert.Single(attempt.Steps);
        Assert.True(await pair.ScalarAsync<bool>(pair.Standby, "SELECT pg_is_in_recovery()"));
        Assert.Equal("off", await pair.ScalarAsync<string>(pair.Primary, "SHOW default_transaction_read_only"));
    }

    [Fact]
    public async Task A_reachable_old_primary_stops_taking_writes_before_the_standby_is_promoted()
    {
        await using var pair = await PostgresPair.StartAsync();
        var options = pair.FailoverOptions();
        await using var host = new DrHost(options);
        await using var writer = await Writer.StartAsync(new NpgsqlConnectionStringBuilder(options.ClientConnectionString("postgres", TargetSessionAttributes.ReadWrite)) { CommandTimeout = 2 }.ConnectionString);
        await PostgresPair.WaitAsync(() => Task.FromResult(writer.Acknowledged.Count >= 100), "100 acknowledged writes");

        var decision = await host.Coordinator.FailOverAsync("database", "planned switchover", "operator@example");
        Assert.True(decision.Outcome == FailoverOutcome.FailedOver, decision.Reason);
        var result = decision.Result!;
        Assert.Equal(FencingOutcome.Fenced, result.Fencing);
        Assert.Equal(["check", "fence", "catch-up", "promote", "record-topology", "re-point"], result.Steps.Select(s => s.Name));
        var fence = result.Steps.Single(s => s.Name == "fence");
        var promote = result.Steps.Single(s => s.Name == "promote");
        Assert.True(fence.StartedAt + fence.Duration <= promote.StartedAt);
        Assert.True(result.Steps.Single(s => s.Name == "catch-up").Succeeded);
        Assert.Equal(0, result.DataLossBytes);

        var fencedAt = fence.StartedAt + fence.Duration;
        await writer.FirstAcknowledgedOnAsync($"{pair.Standby.Host}:{pair.Standby.Port}", TimeSpan.FromSeconds(30));
        await writer.StopAsync();

        // The old primary takes no login at all (Regression_SplitBrainTests shows a session that insists gets nothing).
        await AssertRefusesLoginsAsync(pair.Primary);

        // No write was acknowledged by the old primary after the fence, and every acknowledged write is on the new one.
        var primaryAddress = $"{pair.Primary.Host}:{pair.Primary.Port}";
        Assert.DoesNotContain(writer.Acknowledged, a => a.Host == primaryAddress && a.At > fencedAt + TimeSpan.FromMilliseconds(50));
        var count = await pair.ScalarAsync<long>(pair.Standby, "SELECT count(*) FROM acked WHERE id = ANY($1)".Replace("$1", "ARRAY[" + string.Join(',', writer.Acknowledged.Select(a => a.Id)) + "]::bigint[]", StringComparison.Ordinal));
        Assert.Equal(writer.Acknowledged.Count, count);
        Assert.Contains(writer.Acknowledged, a => a.Host == $"{pair.Standby.Host}:{pair.Standby.Port}");
        Assert.Contains(await host.Records.ListAuditAsync(DateTimeOffset.UtcNow.AddMinutes(-5)).ToListAsync(), a => a.Actor == "operator@example" && a.Outcome == "FailedOver");
        AssertNoSecret(pair, host, decision);
    }

    /// <summary>A fenced old primary: every login refused by its pg_hba.conf.</summary>
    internal static async Task AssertRefusesLoginsAsync(HealthMate.Backup.PostgreSql.PostgreSqlConnectionOptions node)
    {
        var refused = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var connection = node.OpenConnection("postgres");
            await connection.OpenAsync();
        });
        Assert.Equal("28000", refused.SqlState);
        Assert.Contains("pg_hba.conf rejects connection", refused.MessageText, StringComparison.Ordinal);
    }

    /// <summary>The password reaches no record, no audit entry, no result and no probe answer.</summary>
    private static void AssertNoSecret(PostgresPair pair, DrHost host, FailoverDecision decision)
    {
        var password = pair.Primary.Password!;
        Assert.True(password.Length >= 16);
        foreach (var file in Directory.EnumerateFiles(host.Host.Root, "*", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain(password, File.ReadAllText(file), StringComparison.Ordinal);
        }

        Assert.DoesNotContain(password, System.Text.Json.JsonSerializer.Serialize(decision.Result), StringComparison.Ordinal);
        Assert.DoesNotContain(password, System.Text.Json.JsonSerializer.Serialize(host.Monitor.GetStatus()), StringComparison.Ordinal);
        Assert.DoesNotContain(password, host.Endpoints.Get("database")?.ToString() ?? string.Empty, StringComparison.Ordinal);
    }
}
