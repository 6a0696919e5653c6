using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <content>Connections and the state queries the other parts share.</content>
public sealed partial class PostgreSqlFailoverStrategy
{
    private async Task<PrimaryState?> ReadPrimaryStateAsync(PostgreSqlConnectionOptions node, CancellationToken cancellationToken, TimeSpan? connectTimeout)
    {
        var db = await OpenAsync(node, cancellationToken, connectTimeout).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand("""
                SELECT pg_is_in_recovery(),
                       CASE WHEN pg_is_in_recovery() THEN 0 ELSE (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint END,
                       current_setting('synchronous_standby_names'),
                       current_setting('default_transaction_read_only') = 'on',
                       coalesce((SELECT string_agg(application_name || '=' || sync_state, ',') FROM pg_stat_replication WHERE state = 'streaming'), '')
                """, db);
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    if (reader.GetBoolean(0))
                    {
                        return null;
                    }

                    var names = reader.GetString(2);
                    var replicas = reader.GetString(4).Split(',', StringSplitOptions.RemoveEmptyEntries)
                        .Select(p => p.Split('=', 2)).GroupBy(p => p[0], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal);
                    return new PrimaryState(reader.GetInt64(1), names, replicas, reader.GetBoolean(3) || names == PostgreSqlFailoverOptions.FencedStandbyName);
                }
            }
        }
    }

    private async Task<StandbyState> ReadStandbyStateAsync(PostgreSqlConnectionOptions node, CancellationToken cancellationToken)
    {
        var db = await OpenAsync(node, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand("""
                SELECT pg_is_in_recovery(),
                       (pg_last_wal_receive_lsn() - '0/0'::pg_lsn)::bigint,
                       (coalesce(pg_last_wal_replay_lsn(), '0/0') - '0/0'::pg_lsn)::bigint,
                       pg_last_xact_replay_timestamp(),
                       CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE 'not paused' END,
                       coalesce((SELECT substring(conninfo FROM 'application_name=([^ ]+)') FROM pg_stat_wal_receiver),
                                nullif(current_setting('cluster_name'), ''), 'walreceiver')
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
                        reader.GetString(5));
                }
            }
        }
    }

    private static async Task<NpgsqlConnection> OpenAsync(PostgreSqlConnectionOptions node, CancellationToken cancellationToken, TimeSpan? connectTimeout)
    {
        var db = node.OpenConnection(node.MaintenanceDatabase, connectTimeout is { } limit ? Math.Clamp((int)Math.Ceiling(limit.TotalSeconds), 1, node.ConnectTimeoutSeconds) : null);
        try
        {
            if (connectTimeout is { } timeout)
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(timeout);
                try
                {
                    await db.OpenAsync(deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"no answer within {timeout.TotalSeconds:0.#} s");
                }
            }
            else
            {
                await db.OpenAsync(cancellationToken).ConfigureAwait(false);
            }

            return db;
        }
        catch
        {
            await db.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static bool IsConnectionFailure(Exception ex, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested && ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException or InvalidOperationException;

    /// <summary>Npgsql's message names the server and the problem, never the password.</summary>
    private static string Describe(Exception ex) => ex is PostgresException pg ? $"{pg.SqlState}: {pg.MessageText}" : ex.InnerException is System.Net.Sockets.SocketException socket ? socket.SocketErrorCode.ToString() : ex.Message;

    private static string FormatLsn(long lsn) => new Lsn((ulong)lsn).ToString();

    private sealed record PrimaryState(long Lsn, string SynchronousNames, IReadOnlyDictionary<string, string> Replicas, bool Fenced);

    private sealed record StandbyState(bool InRecovery, long? ReceivedLsn, long ReplayedLsn, DateTimeOffset? ReplayTimestamp, string PauseState, string ApplicationName);
}
