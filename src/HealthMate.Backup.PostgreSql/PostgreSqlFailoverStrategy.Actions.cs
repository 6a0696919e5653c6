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

    /// <summary>
    /// Stops a reachable primary taking writes; returns its WAL position after the fence. Settings alone are advisory
    /// (a role, a database or a session can override <c>default_transaction_read_only</c> and <c>synchronous_commit</c>,
    /// and <c>BEGIN READ WRITE</c> ignores the default), so the fence refuses every new login (<c>pg_hba.conf</c>) and ends
    /// every client session: no session is left that could commit. The settings stay as a second line. If it cannot be fenced
    /// over SQL, the fence hook (when configured) is asked to stop it.
    /// </summary>
    private async Task<(FailoverStep Step, FencingOutcome Outcome, long? Lsn)> FenceCoreAsync(int index, FailoverRequest request, CancellationToken cancellationToken)
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
            if (RefusesLogins(ex))
            {
                return (new FailoverStep("fence", started, clock.Elapsed, true, $"old primary {node} already refuses logins (fenced)"), FencingOutcome.Fenced, null);
            }

            if (await FenceThroughHookAsync(index, request, cancellationToken).ConfigureAwait(false) is { } hooked)
            {
                return (hooked, hooked.Succeeded ? FencingOutcome.Fenced : FencingOutcome.Unreachable, null);
            }

            return (new FailoverStep("fence", started, clock.Elapsed, true, $"old primary {node} is unreachable ({Describe(ex)}): not fenced; it must not be started again as a primary (rebuild it as a standby)"), FencingOutcome.Unreachable, null);
        }

        string? failure;
        await using (db.ConfigureAwait(false))
        {
            try
            {
                if (await db.ScalarAsync<bool>("SELECT pg_is_in_recovery()", cancellationToken).ConfigureAwait(false))
                {
                    return (new FailoverStep("fence", started, clock.Elapsed, true, $"{node} is in recovery: nothing to fence"), FencingOutcome.NotAttempted, null);
                }

                // This session's own writes (the fence itself) must go through once the settings are reloaded. ALTER
                // SYSTEM runs alone (never in a transaction or a pipeline).
                await db.ExecuteAsync("SET default_transaction_read_only = off", cancellationToken).ConfigureAwait(false);
                foreach (var setting in new[] { "default_transaction_read_only = on", $"synchronous_standby_names = '{PostgreSqlFailoverOptions.FencedStandbyName}'", "synchronous_commit = 'on'" })
                {
                    await db.ExecuteAsync($"ALTER SYSTEM SET {setting}", cancellationToken).ConfigureAwait(false);
                }

                await db.ExecuteAsync("SELECT pg_reload_conf()", cancellationToken).ConfigureAwait(false);
                await RefuseLoginsAsync(db, cancellationToken).ConfigureAwait(false);

                // No login is accepted now; end every client session, until none is seen twice in a row 100 ms apart (a
                // login accepted just before the postmaster reloaded would show up in between).
                var ended = 0L;
                var deadline = Stopwatch.StartNew();
                for (var quiet = 0; quiet < 2;)
                {
                    var terminated = await db.ScalarAsync<long>("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()", cancellationToken).ConfigureAwait(false);
                    ended += terminated;
                    quiet = terminated == 0 ? quiet + 1 : 0;
                    if (deadline.Elapsed > _options.ConnectTimeout * 5)
                    {
                        throw new TimeoutException("client sessions did not end");
                    }

                    await Task.Delay(quiet == 0 ? 20 : 100, cancellationToken).ConfigureAwait(false);
                }

                var lsn = await db.ScalarAsync<long>("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint", cancellationToken).ConfigureAwait(false);
                return (new FailoverStep("fence", started, clock.Elapsed, true,
                    $"old primary {node} fenced: every login refused (pg_hba.conf), {ended} session(s) ended, read-only and no commit acknowledged (synchronous_standby_names = '{PostgreSqlFailoverOptions.FencedStandbyName}'); its WAL ends at {FormatLsn(lsn)}"), FencingOutcome.Fenced, lsn);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
            {
                failure = Describe(ex);
            }
        }

        if (await FenceThroughHookAsync(index, request, cancellationToken).ConfigureAwait(false) is { Succeeded: true } stopped)
        {
            return (stopped with { Detail = $"{node} answers but could not be fenced over SQL ({failure}); {stopped.Detail}" }, FencingOutcome.Fenced, null);
        }

        return (new FailoverStep("fence", started, clock.Elapsed, false, $"{node} answers but could not be fenced: {failure}"), FencingOutcome.Failed, null);
    }

    /// <summary>
    /// Refuses every new login but replication: <c>pg_hba.conf</c> is rewritten to <c>reject</c> everything (its replication
    /// lines kept, so a standby can still fetch the last WAL), the original saved beside it as
    /// <c>pg_hba.conf.healthmate-before-fence</c>, and the configuration reloaded. A file, not a catalog change: nothing of
    /// the fence is in the WAL the standby replays, so the promoted standby takes logins as before. Needs the right to
    /// write server files (superuser or <c>pg_write_server_files</c>).
    /// </summary>
    private static async Task RefuseLoginsAsync(NpgsqlConnection db, CancellationToken cancellationToken)
    {
        // CSV with a delimiter and a quote character no line holds: each line is written exactly as it is.
        const string Raw = "WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')";
        var hba = await db.ScalarAsync<string>("SELECT current_setting('hba_file')", cancellationToken).ConfigureAwait(false);
        var backup = hba + ".healthmate-before-fence";
        var lines = $"SELECT nullif(rtrim(line, E'\\r'), '') AS line, n FROM regexp_split_to_table(rtrim(pg_read_file({ConnInfo.SqlLiteral(hba)}), E'\\n'), E'\\n') WITH ORDINALITY AS l(line, n)";
        if (!await db.ScalarAsync<bool>($"SELECT coalesce((pg_stat_file({ConnInfo.SqlLiteral(backup)}, true)).size IS NOT NULL, false)", cancellationToken).ConfigureAwait(false))
        {
            await db.ExecuteAsync($"COPY (SELECT line FROM ({lines}) AS o ORDER BY n) TO {ConnInfo.SqlLiteral(backup)} {Raw}", cancellationToken).ConfigureAwait(false);
        }

        await db.ExecuteAsync($"""
            COPY (
              SELECT line FROM (
                SELECT 0::bigint AS n, '# Fenced by HealthMate.Backup: every login but replication is refused. The original is pg_hba.conf.healthmate-before-fence.' AS line
                UNION ALL SELECT n, line FROM ({lines}) AS o WHERE line ~ '^\s*(local|host\S*)\s+(\S*,)?replication[\s,]'
                UNION ALL SELECT 1000000, 'local all all reject'
                UNION ALL SELECT 1000001, 'host all all all reject'
              ) AS fence ORDER BY n
            ) TO {ConnInfo.SqlLiteral(hba)} {Raw}
            """, cancellationToken).ConfigureAwait(false);
        await db.ExecuteAsync("SELECT pg_reload_conf()", cancellationToken).ConfigureAwait(false);
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

    /// <summary>Promotes and waits until the server assigns a transaction id; returns the last replayed position, when it
    /// became writable and its new timeline.</summary>
    private async Task<(long Replayed, DateTimeOffset WritableAt, long Timeline)> PromoteAsync(PostgreSqlConnectionOptions target, CancellationToken cancellationToken)
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
            var timeline = await db.ScalarAsync<long>("SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint", cancellationToken).ConfigureAwait(false);
            return (replayed, writableAt, timeline);
        }
    }
}
