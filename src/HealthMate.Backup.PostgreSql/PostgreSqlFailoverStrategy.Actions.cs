using System.Diagnostics;
using HealthMate.Backup.Failover;
using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <content>What a failover does to the servers: fence, catch up, promote, re-point the other standbys.</content>
public sealed partial class PostgreSqlFailoverStrategy
{
    /// <summary>
    /// Points the other standbys at the new primary: their <c>primary_conninfo</c> keeps its user, password and options,
    /// with the new primary's host and port (<c>ALTER SYSTEM</c>, reload; the WAL receiver reconnects and follows the new
    /// timeline, <c>recovery_target_timeline = latest</c> being the default). Runs after the new primary takes writes, so
    /// it never delays the recovery; a standby that cannot be re-pointed is named in the step.
    /// </summary>
    private async Task<FailoverStep> RepointStandbysAsync(int newPrimary, int oldPrimary, CancellationToken cancellationToken)
    {
        var started = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        var target = _nodes[newPrimary];
        var done = new List<string>();
        var failed = new List<string>();
        foreach (var index in Enumerable.Range(0, _nodes.Count).Where(i => i != newPrimary && i != oldPrimary))
        {
            var node = _nodes[index];
            try
            {
                var db = await OpenAsync(node, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
                await using (db.ConfigureAwait(false))
                {
                    if (!await db.ScalarAsync<bool>("SELECT pg_is_in_recovery()", cancellationToken).ConfigureAwait(false))
                    {
                        failed.Add($"{node} is not a standby");
                        continue;
                    }

                    var conninfo = await db.ScalarAsync<string>("SELECT current_setting('primary_conninfo')", cancellationToken).ConfigureAwait(false);
                    var repointed = ConnInfo.WithHost(conninfo, target.Host, target.Port);
                    await db.ExecuteAsync($"ALTER SYSTEM SET primary_conninfo = {ConnInfo.SqlLiteral(repointed)}; SELECT pg_reload_conf();", cancellationToken).ConfigureAwait(false);
                    done.Add(node.ToString());
                }
            }
            catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
            {
                failed.Add($"{node}: {Describe(ex)}");
            }
        }

        var detail = $"{(done.Count == 0 ? "no other standby re-pointed" : $"re-pointed {string.Join(", ", done)} at {target.Host}:{target.Port}")}{(failed.Count == 0 ? string.Empty : $"; not re-pointed: {string.Join("; ", failed)}")}";
        return new FailoverStep("re-point-standbys", started, clock.Elapsed, failed.Count == 0, detail);
    }

    /// <summary>Stops a reachable primary taking writes; returns its WAL position after the fence.</summary>
    private async Task<(FailoverStep Step, FencingOutcome Outcome, long? Lsn)> FenceCoreAsync(int index, CancellationToken cancellationToken)
    {
        var node = _nodes[index];
        var started = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        NpgsqlConnection db;
        try
        {
            db = await OpenAsync(node, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
        {
            return (new FailoverStep("fence", started, clock.Elapsed, true, $"old primary {node} is unreachable ({Describe(ex)}): not fenced; it must not be started again as a primary (rebuild it as a standby)"), FencingOutcome.Unreachable, null);
        }

        await using (db.ConfigureAwait(false))
        {
            try
            {
                if (await db.ScalarAsync<bool>("SELECT pg_is_in_recovery()", cancellationToken).ConfigureAwait(false))
                {
                    return (new FailoverStep("fence", started, clock.Elapsed, true, $"{node} is in recovery: nothing to fence"), FencingOutcome.NotAttempted, null);
                }

                await db.ExecuteAsync($"""
                    ALTER SYSTEM SET default_transaction_read_only = on;
                    ALTER SYSTEM SET synchronous_standby_names = '{PostgreSqlFailoverOptions.FencedStandbyName}';
                    ALTER SYSTEM SET synchronous_commit = 'on';
                    SELECT pg_reload_conf();
                    """, cancellationToken).ConfigureAwait(false);

                // New sessions are forked with the postmaster's settings: wait until it has reloaded, then end every
                // session started before (their commits would otherwise still be acknowledged).
                var deadline = Stopwatch.StartNew();
                while (!await IsFencedAsync(node, cancellationToken).ConfigureAwait(false))
                {
                    if (deadline.Elapsed > _options.ConnectTimeout * 5)
                    {
                        throw new TimeoutException("the server did not reload its configuration");
                    }

                    await Task.Delay(10, cancellationToken).ConfigureAwait(false);
                }

                var ended = await db.ScalarAsync<long>("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()", cancellationToken).ConfigureAwait(false);
                var lsn = await db.ScalarAsync<long>("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint", cancellationToken).ConfigureAwait(false);
                return (new FailoverStep("fence", started, clock.Elapsed, true,
                    $"old primary {node} fenced: read-only by default, no commit acknowledged (synchronous_standby_names = '{PostgreSqlFailoverOptions.FencedStandbyName}'), {ended} session(s) ended; its WAL ends at {FormatLsn(lsn)}"), FencingOutcome.Fenced, lsn);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
            {
                return (new FailoverStep("fence", started, clock.Elapsed, false, $"{node} answers but could not be fenced: {Describe(ex)}"), FencingOutcome.Failed, null);
            }
        }
    }

    private async Task<bool> IsFencedAsync(PostgreSqlConnectionOptions node, CancellationToken cancellationToken)
    {
        var probe = await OpenAsync(node, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
        await using (probe.ConfigureAwait(false))
        {
            return await probe.ScalarAsync<string>("SELECT current_setting('synchronous_standby_names')", cancellationToken).ConfigureAwait(false) == PostgreSqlFailoverOptions.FencedStandbyName;
        }
    }

    private async Task<FailoverStep> CatchUpAsync(PostgreSqlConnectionOptions target, long lsn, CancellationToken cancellationToken)
    {
        var started = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        var db = await OpenAsync(target, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            while (true)
            {
                var received = await db.ScalarAsync<long>("SELECT (greatest(coalesce(pg_last_wal_receive_lsn(), '0/0'), pg_last_wal_replay_lsn()) - '0/0'::pg_lsn)::bigint", cancellationToken).ConfigureAwait(false);
                if (received >= lsn)
                {
                    return new FailoverStep("catch-up", started, clock.Elapsed, true, $"{target} received the fenced primary's WAL up to {FormatLsn(lsn)}");
                }

                if (clock.Elapsed > _options.CatchUpTimeout)
                {
                    return new FailoverStep("catch-up", started, clock.Elapsed, false, $"{target} received only up to {FormatLsn(received)} of {FormatLsn(lsn)} within {_options.CatchUpTimeout.TotalSeconds:0.#} s; promoting anyway");
                }

                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Promotes and waits until the server assigns a transaction id; returns the last replayed position and when it became writable.</summary>
    private async Task<(long Replayed, DateTimeOffset WritableAt)> PromoteAsync(PostgreSqlConnectionOptions target, CancellationToken cancellationToken)
    {
        var db = await OpenAsync(target, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            await db.ScalarAsync<bool>("SELECT pg_promote(false)", cancellationToken).ConfigureAwait(false);
            var clock = Stopwatch.StartNew();
            while (await db.ScalarAsync<bool>("SELECT pg_is_in_recovery()", cancellationToken).ConfigureAwait(false))
            {
                if (clock.Elapsed > _options.PromoteTimeout)
                {
                    throw new TimeoutException($"{target} was asked to promote but is still in recovery after {_options.PromoteTimeout.TotalSeconds:0} s.");
                }

                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }

            await db.ExecuteAsync("BEGIN; SELECT pg_current_xact_id(); ROLLBACK;", cancellationToken).ConfigureAwait(false);
            var writableAt = _time.GetUtcNow();
            var replayed = await db.ScalarAsync<long>("SELECT (coalesce(pg_last_wal_replay_lsn(), '0/0') - '0/0'::pg_lsn)::bigint", cancellationToken).ConfigureAwait(false);
            return (replayed, writableAt);
        }
    }
}
