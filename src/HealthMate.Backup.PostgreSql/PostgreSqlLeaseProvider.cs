using System.Globalization;
using System.Text;
using HealthMate.Backup.Leases;
using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <summary>
/// Leader leases held as PostgreSQL session advisory locks (<c>pg_try_advisory_lock</c>) on a dedicated connection
/// to the primary. The lock lives as long as the session: a holder that exits or crashes closes it, and a holder that
/// hangs or is cut off stops renewing, so the server ends its idle session after the lease's duration
/// (<c>idle_session_timeout</c>, with TCP keepalives and <c>tcp_user_timeout</c> for a vanished peer) and the lock
/// is free again. The fencing token is the transaction id the grant takes (<c>pg_current_xact_id()</c>), which only
/// grows on a cluster, across restarts and promotions of its standbys.
/// </summary>
public sealed class PostgreSqlLeaseProvider : ILeaseProvider
{
    /// <summary>The first key of every lock this library takes ("HMB1"), so its locks do not collide with the application's.</summary>
    internal const int LockSpace = 0x484D4231;

    private readonly PostgreSqlConnectionOptions _connection;
    private readonly string _database;
    private readonly TimeProvider _time;

    /// <summary>Initializes a new instance of the <see cref="PostgreSqlLeaseProvider"/> class.</summary>
    /// <param name="connection">The primary to lock on (PostgreSQL 14 or later).</param>
    /// <param name="database">The database to connect to, or <see langword="null"/> for the maintenance database.</param>
    /// <param name="timeProvider">The clock, or <see langword="null"/> for the system clock.</param>
    public PostgreSqlLeaseProvider(PostgreSqlConnectionOptions connection, string? database = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connection = connection;
        _database = database ?? connection.MaintenanceDatabase;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc/>
    public async Task<ILease?> TryAcquireAsync(string name, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        LeaseNames.Validate(name, duration);
        var key = KeyOf(name);
        var connection = _connection.OpenConnection(_database);
        try
        {
            try
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NpgsqlException ex)
            {
                throw new PostgreSqlConnectionException($"Cannot connect to {_connection} for lease '{name}': {ex.Message}", ex);
            }

            // The holder counts its lease from before its first query; the server counts the session idle from after
            // its last one, so the holder's view ends first (both on monotonic clocks, so a wall-clock step moves neither).
            var started = _time.GetTimestamp();
            var seconds = Math.Max(1, (int)Math.Ceiling(duration.TotalSeconds / 3));
            var setup = string.Create(CultureInfo.InvariantCulture,
                $"SET idle_session_timeout = {(long)duration.TotalMilliseconds}; SET tcp_keepalives_idle = {seconds}; SET tcp_keepalives_interval = {seconds}; SET tcp_keepalives_count = 3; SET tcp_user_timeout = {(long)duration.TotalMilliseconds}; SET application_name = 'healthmate-backup lease {name}'");
            await connection.ExecuteAsync(setup, cancellationToken).ConfigureAwait(false);
            if (!await connection.ScalarAsync<bool>($"SELECT pg_try_advisory_lock({LockSpace}, {key})", cancellationToken).ConfigureAwait(false))
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                return null;
            }

            var token = long.Parse(await connection.ScalarAsync<string>("SELECT pg_current_xact_id()::text", cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
            return new Lease(this, connection, name, key, token, duration, started);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A stable lock key for a lease name (FNV-1a, non-negative so it reads back as an oid).</summary>
    internal static int KeyOf(string name)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(name))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash & 0x7FFFFFFF);
    }

    private sealed class Lease : ILease
    {
        private readonly PostgreSqlLeaseProvider _owner;
        private readonly NpgsqlConnection _connection;
        private readonly int _key;
        private readonly TimeSpan _duration;
        private readonly LeaseExpiry _expiry;
        private readonly SemaphoreSlim _gate = new(1, 1);
        private bool _released;

        internal Lease(PostgreSqlLeaseProvider owner, NpgsqlConnection connection, string name, int key, long token, TimeSpan duration, long sentAt)
        {
            _owner = owner;
            _connection = connection;
            Name = name;
            _key = key;
            FencingToken = token;
            _duration = duration;
            _expiry = new LeaseExpiry(sentAt, duration, owner._time);
        }

        public string Name { get; }

        public long FencingToken { get; }

        public DateTimeOffset ExpiresAt => _expiry.ExpiresAt;

        public CancellationToken Lost => _expiry.Token;

        public async Task<bool> RenewAsync(CancellationToken cancellationToken = default)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var before = _expiry.Timestamp();
                if (_released || _expiry.HasLapsed || !await HoldsLockAsync(cancellationToken).ConfigureAwait(false))
                {
                    _expiry.MarkLost();
                    return false;
                }

                // The server counts the session idle from this query on; the holder counts from before it.
                _expiry.Extend(before, _duration);
                return true;
            }
            finally
            {
                _gate.Release();
            }
        }

        public async Task EnsureHeldAsync(CancellationToken cancellationToken = default)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_released || _expiry.HasLapsed)
                {
                    _expiry.MarkLost();
                    throw new LeaseLostException(Name, FencingToken, _released ? "it was released" : "it expired before it was renewed");
                }

                if (!await HoldsLockAsync(cancellationToken).ConfigureAwait(false))
                {
                    _expiry.MarkLost();
                    throw new LeaseLostException(Name, FencingToken, "the server no longer holds its advisory lock (the session ended)");
                }
            }
            finally
            {
                _gate.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _gate.WaitAsync().ConfigureAwait(false);
            try
            {
                if (!_released && !_expiry.Token.IsCancellationRequested)
                {
                    try
                    {
                        await _connection.ScalarAsync<bool>($"SELECT pg_advisory_unlock({LockSpace}, {_key})", CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
                    {
                        // Boundary: closing the session below releases the lock anyway.
                    }
                }

                _released = true;
                _expiry.MarkLost();
                await _connection.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
                _expiry.Dispose();
            }
        }

        /// <summary>Whether this session still holds the lock; a broken session does not.</summary>
        private async Task<bool> HoldsLockAsync(CancellationToken cancellationToken)
        {
            try
            {
                var sql = $"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND classid = {LockSpace} AND objid = {_key} AND objsubid = 2 AND granted";
                return await _connection.ScalarAsync<long>(sql, cancellationToken).ConfigureAwait(false) > 0;
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
            {
                return false;
            }
        }
    }
}
