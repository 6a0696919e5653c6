using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <content>Connections and the state queries the other parts share.</content>
public sealed partial class PostgreSqlFailoverStrategy
{
    /// <summary>Reads what a server is now: a primary (its WAL position, timeline, synchronous standbys), or a standby
    /// (whether its WAL receiver streams from a primary).</summary>
    private async Task<NodeState> ReadNodeStateAsync(PostgreSqlConnectionOptions node, CancellationToken cancellationToken, TimeSpan? connectTimeout)
    {
        var db = await OpenAsync(node, cancellationToken, connectTimeout).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand($"""
                SELECT pg_is_in_recovery(),
                       CASE WHEN pg_is_in_recovery() THEN 0 ELSE (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint END,
                       current_setting('synchronous_standby_names'),
                       current_setting('default_transaction_read_only') = 'on',
                       coalesce((SELECT string_agg(application_name || '=' || sync_state, ',') FROM pg_stat_replication WHERE state = 'streaming'), ''),
                       CASE WHEN pg_is_in_recovery() THEN 0 ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint END,
                       {ReceiverStreaming}
                """, db);
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    if (reader.GetBoolean(0))
                    {
                        return new NodeState(null, reader.GetBoolean(6));
                    }

                    var names = reader.GetString(2);
                    var replicas = reader.GetString(4).Split(',', StringSplitOptions.RemoveEmptyEntries)
                        .Select(p => p.Split('=', 2)).GroupBy(p => p[0], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal);
                    return new NodeState(new PrimaryState(reader.GetInt64(1), names, replicas, names == PostgreSqlFailoverOptions.FencedStandbyName, reader.GetBoolean(3), reader.GetInt64(5)), false);
                }
            }
        }
    }

    private async Task<StandbyState> ReadStandbyStateAsync(PostgreSqlConnectionOptions node, CancellationToken cancellationToken)
    {
        var db = await OpenAsync(node, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand($"""
                SELECT pg_is_in_recovery(),
                       (pg_last_wal_receive_lsn() - '0/0'::pg_lsn)::bigint,
                       (coalesce(pg_last_wal_replay_lsn(), '0/0') - '0/0'::pg_lsn)::bigint,
                       pg_last_xact_replay_timestamp(),
                       CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE 'not paused' END,
                       coalesce((SELECT substring(conninfo FROM 'application_name=([^ ]+)') FROM pg_stat_wal_receiver),
                                substring(current_setting('primary_conninfo') FROM 'application_name=''?([^'' ]+)'),
                                nullif(current_setting('cluster_name'), ''), 'walreceiver'),
                       {ReceiverStreaming},
                       (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_receiver_timeout')
                """, db);
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    return new StandbyState(
                        reader.GetBoolean(0),
                        reader.IsDBNull(1) ? null : reader.GetInt64(1),
                        reader.GetInt64(2),
                        reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3),
                        reader.GetString(4),
                        reader.GetString(5),
                        reader.GetBoolean(6),
                        TimeSpan.FromMilliseconds(Math.Max(0, reader.GetInt64(7))));
                }
            }
        }
    }

    private static async Task<NpgsqlConnection> OpenAsync(PostgreSqlConnectionOptions node, CancellationToken cancellationToken, TimeSpan? connectTimeout)
    {
        var db = node.OpenConnection(node.MaintenanceDatabase, connectTimeout is { } limit ? Math.Clamp((int)Math.Ceiling(limit.TotalSeconds), 1, node.ConnectTimeoutSeconds) : null);
        if (connectTimeout is not { } timeout)
        {
            try
            {
                await db.OpenAsync(cancellationToken).ConfigureAwait(false);
                return db;
            }
            catch
            {
                await db.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        // A server behind a silent partition accepts the TCP connection and never answers; Npgsql then waits in its
        // authentication exchange past both its Timeout and a cancelled token. Stop waiting at the deadline; the attempt,
        // left behind, disposes what it opened whenever it ends (a reset, the link back).
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var opening = db.OpenAsync(deadline.Token);
        var abandoned = false;
        _ = opening.ContinueWith(
            async task =>
            {
                deadline.Dispose();
                if (!task.IsCompletedSuccessfully || Volatile.Read(ref abandoned))
                {
                    await db.DisposeAsync().ConfigureAwait(false);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.None,
            TaskScheduler.Default);
        try
        {
            await opening.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return db;
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            Volatile.Write(ref abandoned, true);
            if (opening.IsCompletedSuccessfully)
            {
                await db.DisposeAsync().ConfigureAwait(false); // it opened just after the deadline
            }

            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"no answer within {timeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>
    /// Whether a standby's WAL receiver hears from a primary now: streaming, and a message received within
    /// <c>wal_receiver_timeout</c> (the receiver pings at half of it, so a healthy idle link always has one). The status
    /// alone is not enough: PostgreSQL reports <c>streaming</c> as soon as the receiver starts, also while it waits,
    /// possibly for ever, on a primary that accepted the connection and never answers.
    /// </summary>
    private const string ReceiverStreaming = """
        EXISTS (SELECT 1 FROM pg_stat_wal_receiver, (SELECT setting::bigint AS ms FROM pg_settings WHERE name = 'wal_receiver_timeout') AS t
                WHERE status = 'streaming' AND last_msg_receipt_time IS NOT NULL
                  AND (t.ms <= 0 OR last_msg_receipt_time > now() - t.ms * interval '1 millisecond'))
        """;

    /// <summary>Whether the server refused the login by a <c>reject</c> line of its <c>pg_hba.conf</c> (our fence).</summary>
    private static bool RefusesLogins(Exception ex) => ex is PostgresException { SqlState: "28000" } pg && pg.MessageText.Contains("pg_hba.conf rejects connection", StringComparison.Ordinal);

    private static bool IsConnectionFailure(Exception ex, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested && ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException or InvalidOperationException;

    /// <summary>Npgsql's message names the server and the problem, never the password.</summary>
    private static string Describe(Exception ex) => ex is PostgresException pg ? $"{pg.SqlState}: {pg.MessageText}" : ex.InnerException is System.Net.Sockets.SocketException socket ? socket.SocketErrorCode.ToString() : ex.Message;

    private static string FormatLsn(long lsn) => new Lsn((ulong)lsn).ToString();

    /// <summary>A primary as read: <paramref name="Fenced"/> is our fence's mark (<c>synchronous_standby_names</c>);
    /// <paramref name="ReadOnly"/> alone is an operator's maintenance, not a fence.</summary>
    private sealed record PrimaryState(long Lsn, string SynchronousNames, IReadOnlyDictionary<string, string> Replicas, bool Fenced, bool ReadOnly, long Timeline);

    /// <summary>A server as read: <paramref name="Primary"/> when it is not in recovery; else whether its WAL receiver streams.</summary>
    private sealed record NodeState(PrimaryState? Primary, bool ReceiverStreaming);

    private sealed record StandbyState(bool InRecovery, long? ReceivedLsn, long ReplayedLsn, DateTimeOffset? ReplayTimestamp, string PauseState, string ApplicationName, bool ReceiverStreaming, TimeSpan ReceiverTimeout);
}
