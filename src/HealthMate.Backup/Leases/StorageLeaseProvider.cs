using System.Collections.Concurrent;
using System.Globalization;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HealthMate.Backup.Leases;

/// <summary>
/// Leader leases kept in the backup storage itself, for hosts without a database: each grant, renewal and release is
/// a new record <c>{prefix}leases/{name}/{sequence}</c> created with put-if-absent, so of two hosts racing for the
/// same next record exactly one wins. The record with the highest sequence is the lease's state. The fencing token is
/// the sequence of the grant, so it grows with every grant and is never reused (the highest record is never deleted).
/// See docs/operations.md.
/// </summary>
/// <remarks>
/// <para>No host trusts another host's wall clock, or its own. The holder takes a monotonic timestamp
/// (<see cref="TimeProvider.GetTimestamp"/>) just before it sends a grant or renewal and treats the lease as lost
/// <c>duration - MaxClockSkew</c> after it, by its own monotonic clock. Another host takes over a record that is not a
/// release only once it has itself seen that same newest record (same sequence, same bytes) unchanged for
/// <c>duration + MaxClockSkew</c> by its own monotonic clock (the "observed time" of Kubernetes leader election).
/// Safety: the taker can first see the record only after it was stored, so after the holder's timestamp; it then waits
/// the whole duration plus the margin on its clock, while the holder stops the margin before the duration on its clock.
/// The holder therefore stops at least twice <see cref="StorageLeaseOptions.MaxClockSkew"/> before the taker starts,
/// less only what the two monotonic clocks' rates differ over one duration. A step of either host's wall clock moves
/// neither monotonic clock, so it changes nothing; the record's <c>expiresAt</c> is for display (and for records
/// written before durations were recorded, which keep the wall-clock rule). A renewal in the meantime is a new newest
/// record, and the taker's observation starts again. A paused holder whose clocks count the pause finds its lease
/// lost on resume; one whose clocks do not is stopped by the fence: <see cref="ILease.EnsureHeldAsync"/> reads the store
/// and sees the newer record, and a renewal's put-if-absent fails. A paused or restarted taker only waits longer (a
/// new provider has seen nothing, so it waits a full duration, however old the record looks).</para>
/// <para>A release is taken at once. Records are sealed with an HMAC when the provider has the keyring (as
/// <c>Lease: Storage</c> builds it); this public constructor has none and writes plain JSON, which anyone with write
/// access to the store can forge. A newest record that fails authentication (forged, tampered with, sealed under a key
/// this host lacks, or copied from another lease or sequence) is never a grant and never a release: its sequence still
/// counts (the next grant goes above it), a holder that finds one above its own record treats its lease as lost, and
/// a taker treats it as held by an unknown writer for the duration the taker itself asks for, plus the margin, from
/// when it first saw it; then the lease is taken over above it. This is logged; reading such a record never throws.</para>
/// </remarks>
public sealed class StorageLeaseProvider : ILeaseProvider
{
    private readonly IStorageProvider _storage;
    private readonly string _prefix;
    private readonly TimeProvider _time;
    private readonly StorageLeaseOptions _options;
    private readonly LeaseRecordCodec _codec;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Observation> _observations = new(StringComparer.Ordinal);

    /// <summary>Initializes a new instance of the <see cref="StorageLeaseProvider"/> class whose records are not
    /// authenticated (plain JSON): for tests and hosts without a key. <c>Lease: Storage</c> builds one that seals its
    /// records with the backup keyring.</summary>
    /// <param name="storage">The store that holds the lease records (it must honour put-if-absent).</param>
    /// <param name="prefix">The storage prefix (the <c>BackupDR:Storage:Prefix</c>), or empty.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="options">Clock skew allowance and holder name.</param>
    public StorageLeaseProvider(IStorageProvider storage, string? prefix, TimeProvider timeProvider, StorageLeaseOptions? options = null)
        : this(storage, prefix, timeProvider, options, null, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageLeaseProvider"/> class.</summary>
    /// <param name="storage">The store that holds the lease records (it must honour put-if-absent).</param>
    /// <param name="prefix">The storage prefix, or empty.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="options">Clock skew allowance and holder name.</param>
    /// <param name="keyRing">The keyring that seals and checks the records, or <see langword="null"/> for plain records.</param>
    /// <param name="logger">Where records that fail authentication are reported.</param>
    internal StorageLeaseProvider(IStorageProvider storage, string? prefix, TimeProvider timeProvider, StorageLeaseOptions? options, BackupKeyRing? keyRing, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _storage = storage;
        _prefix = new StorageLayout(prefix).Prefix + "leases/";
        _time = timeProvider;
        _options = options ?? new StorageLeaseOptions();
        _codec = new LeaseRecordCodec(keyRing);
        _logger = logger ?? NullLogger.Instance;
        if (_options.MaxClockSkew < TimeSpan.Zero || _options.MaxClockSkew > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.MaxClockSkew, "MaxClockSkew must be from zero to ten minutes.");
        }
    }

    /// <inheritdoc/>
    /// <remarks>Returns <see langword="null"/> while the newest record is another holder's and this provider has not yet
    /// seen it unchanged for long enough; call again later (it never waits). See the class remarks.</remarks>
    public async Task<ILease?> TryAcquireAsync(string name, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        LeaseNames.Validate(name, duration);
        if (duration < 2 * _options.MaxClockSkew)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, $"A storage lease must last at least twice MaxClockSkew ({_options.MaxClockSkew}): its holder counts it as lost MaxClockSkew before its end and renews it every third.");
        }

        var folder = _prefix + name + "/";
        var newest = await ReadNewestAsync(folder, name, cancellationToken).ConfigureAwait(false);
        if (newest is not null && !MayTakeOver(name, newest, duration))
        {
            return null;
        }

        var sequence = newest?.Sequence ?? 0;
        if (sequence == long.MaxValue)
        {
            return null; // only a forged record can sit at the last sequence; nothing can be granted above it
        }

        var granted = sequence + 1;
        var record = NewRecord(name, granted, Guid.NewGuid().ToString("N"), granted, duration, released: false);
        var sentAt = _time.GetTimestamp();
        if (!await _storage.PutIfAbsentAsync(RecordKey(folder, granted), _codec.Encode(record), cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        _observations.TryRemove(name, out _);
        var lease = new Lease(this, folder, name, duration, record, sentAt);
        long? above;
        try
        {
            above = await lease.SettleAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Boundary: the grant was written at the next sequence after the newest one read; it holds.
            return lease;
        }

        if (above is { } newer)
        {
            await lease.GiveUpAsync(newer).ConfigureAwait(false);
            return null;
        }

        return lease;
    }

    private static string RecordKey(string folder, long sequence) => folder + sequence.ToString("D19", CultureInfo.InvariantCulture);

    private LeaseRecord NewRecord(string name, long sequence, string holderId, long token, TimeSpan duration, bool released) =>
        new(holderId, _options.HolderName, token, released ? _time.GetUtcNow() - _options.MaxClockSkew - TimeSpan.FromMilliseconds(1) : _time.GetUtcNow() + duration)
        {
            DurationMs = (long)duration.TotalMilliseconds,
            Released = released,
            Name = name,
            Sequence = sequence,
        };

    /// <summary>Whether this host may take over a lease whose newest record is <paramref name="newest"/>, having now
    /// seen it; remembers when it first saw that record.</summary>
    private bool MayTakeOver(string name, NewestRecord newest, TimeSpan duration)
    {
        // Taken after the read: the record was stored before this moment, so before any moment counted from here.
        var now = _time.GetTimestamp();
        var fresh = new Observation(newest.Sequence, newest.Bytes, now);
        var seen = _observations.AddOrUpdate(name, fresh, (_, old) => old.Sequence == newest.Sequence && old.Bytes.AsSpan().SequenceEqual(newest.Bytes) ? old : fresh);
        var observed = _time.GetElapsedTime(seen.FirstSeen, now);
        if (newest.Reading.Record is { } record)
        {
            if (record.Released)
            {
                return true;
            }

            return record.Duration is { } recorded
                ? observed >= recorded + _options.MaxClockSkew
                : _time.GetUtcNow() >= record.ExpiresAt + _options.MaxClockSkew; // written before durations were recorded
        }

        var wait = duration + _options.MaxClockSkew;
        if (ReferenceEquals(seen, fresh))
        {
            Log.LeaseRecordUnauthenticated(_logger, name, newest.Sequence, newest.Reading.Problem!, (long)wait.TotalMilliseconds);
        }

        return observed >= wait;
    }

    private async Task<NewestRecord?> ReadNewestAsync(string folder, string name, CancellationToken cancellationToken)
    {
        // A record can vanish between the listing and the read (a holder removing older ones); then list again.
        for (var attempt = 0; ; attempt++)
        {
            var newest = (await ListSequencesAsync(folder, cancellationToken).ConfigureAwait(false)).DefaultIfEmpty().Max(r => r.Sequence);
            if (newest == 0)
            {
                return null;
            }

            try
            {
                return await ReadAsync(folder, name, newest, cancellationToken).ConfigureAwait(false);
            }
            catch (StorageObjectNotFoundException) when (attempt < 3)
            {
            }
        }
    }

    private async Task<NewestRecord> ReadAsync(string folder, string name, long sequence, CancellationToken cancellationToken)
    {
        var key = RecordKey(folder, sequence);
        var bytes = await _storage.ReadSmallAsync(key, LeaseRecordCodec.MaxRecordSize, cancellationToken).ConfigureAwait(false);
        return new NewestRecord(sequence, bytes, _codec.Decode(name, sequence, key, bytes));
    }

    /// <summary>A lease name's records and their sequence numbers.</summary>
    private async Task<List<(long Sequence, string Key)>> ListSequencesAsync(string folder, CancellationToken cancellationToken)
    {
        var records = new List<(long, string)>();
        await foreach (var item in _storage.ListAsync(folder, cancellationToken).ConfigureAwait(false))
        {
            if (long.TryParse(item.Key.AsSpan(folder.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) && sequence > 0)
            {
                records.Add((sequence, item.Key));
            }
        }

        return records;
    }

    /// <summary>The newest record of a lease as read, and whether it checks out.</summary>
    private sealed record NewestRecord(long Sequence, byte[] Bytes, LeaseReading Reading);

    /// <summary>The record a taker saw newest, and when (its own monotonic timestamp) it first saw it.</summary>
    private sealed record Observation(long Sequence, byte[] Bytes, long FirstSeen);

    /// <summary>A held storage lease: its newest record is <see cref="_sequence"/>.</summary>
    private sealed class Lease : ILease
    {
        private readonly StorageLeaseProvider _owner;
        private readonly string _folder;
        private readonly TimeSpan _duration;
        private readonly string _holderId;
        private readonly LeaseExpiry _expiry;
        private readonly SemaphoreSlim _gate = new(1, 1);
        private long _sequence;
        private bool _released;

        internal Lease(StorageLeaseProvider owner, string folder, string name, TimeSpan duration, LeaseRecord grant, long sentAt)
        {
            _owner = owner;
            _folder = folder;
            Name = name;
            _duration = duration;
            _holderId = grant.HolderId;
            FencingToken = grant.Token;
            _sequence = grant.Token;
            _expiry = new LeaseExpiry(sentAt, ValidFor, owner._time);
        }

        public string Name { get; }

        public long FencingToken { get; }

        public DateTimeOffset ExpiresAt => _expiry.ExpiresAt;

        public CancellationToken Lost => _expiry.Token;

        /// <summary>How long after sending a record the holder counts the lease as its own.</summary>
        private TimeSpan ValidFor => _duration - _owner._options.MaxClockSkew;

        public async Task<bool> RenewAsync(CancellationToken cancellationToken = default)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_released || _expiry.HasLapsed)
                {
                    _expiry.MarkLost();
                    return false;
                }

                var next = _owner.NewRecord(Name, _sequence + 1, _holderId, FencingToken, _duration, released: false);
                var sentAt = _expiry.Timestamp();
                bool written;
                try
                {
                    written = await _owner._storage.PutIfAbsentAsync(RecordKey(_folder, _sequence + 1), _owner._codec.Encode(next), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Boundary: a store that cannot be reached does not end the lease yet; it expires on its own clock.
                    return !_expiry.HasLapsed;
                }

                if (!written)
                {
                    await DescribeAndMarkLostAsync(_sequence + 1, cancellationToken).ConfigureAwait(false);
                    return false;
                }

                _sequence++;
                long? above;
                try
                {
                    above = await SettleAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Boundary: not knowing whether a record sits above ours, the lease is not extended this time.
                    return !_expiry.HasLapsed;
                }

                if (above is { } sequence)
                {
                    await DescribeAndMarkLostAsync(sequence, cancellationToken).ConfigureAwait(false);
                    return false;
                }

                _expiry.Extend(sentAt, ValidFor);
                return !_expiry.HasLapsed;
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
                if (_released)
                {
                    throw new LeaseLostException(Name, FencingToken, "it was released");
                }

                if (_expiry.HasLapsed)
                {
                    _expiry.MarkLost();
                    throw new LeaseLostException(Name, FencingToken, "it expired before it was renewed");
                }

                var above = (await _owner.ListSequencesAsync(_folder, cancellationToken).ConfigureAwait(false)).Where(r => r.Sequence > _sequence).Select(r => r.Sequence).DefaultIfEmpty().Max();
                if (above > 0)
                {
                    throw new LeaseLostException(Name, FencingToken, await DescribeAndMarkLostAsync(above, cancellationToken).ConfigureAwait(false));
                }

                if (_expiry.HasLapsed)
                {
                    _expiry.MarkLost();
                    throw new LeaseLostException(Name, FencingToken, "it expired while it was being checked");
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
                if (!_released && !_expiry.HasLapsed)
                {
                    // Release: a record that says so (and, for readers of plain records that predate the flag, one
                    // that has already expired); the sequence keeps growing, so the next grant's token is larger than ours.
                    var released = _owner.NewRecord(Name, _sequence + 1, _holderId, FencingToken, _duration, released: true);
                    try
                    {
                        await _owner._storage.PutIfAbsentAsync(RecordKey(_folder, _sequence + 1), _owner._codec.Encode(released), CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception)
                    {
                        // Boundary: a release that cannot be written leaves the lease to expire by itself.
                    }
                }

                _released = true;
                _expiry.MarkLost();
            }
            finally
            {
                _gate.Release();
                _expiry.Dispose();
            }
        }

        /// <summary>Checks that no record sits above this holder's newest and removes the records below it (best
        /// effort; never the newest).</summary>
        /// <returns>The highest sequence above this holder's, or <see langword="null"/> if its record is the newest.</returns>
        internal async Task<long?> SettleAsync(CancellationToken cancellationToken)
        {
            var records = await _owner.ListSequencesAsync(_folder, cancellationToken).ConfigureAwait(false);
            var newest = records.Select(r => r.Sequence).DefaultIfEmpty().Max();
            if (newest > _sequence)
            {
                return newest;
            }

            try
            {
                foreach (var (_, key) in records.Where(r => r.Sequence < _sequence))
                {
                    await _owner._storage.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Boundary: old records are only clutter; the next grant or renewal removes them.
            }

            return null;
        }

        /// <summary>Gives up a grant that turned out not to be the newest record.</summary>
        internal async Task GiveUpAsync(long above)
        {
            await DescribeAndMarkLostAsync(above, CancellationToken.None).ConfigureAwait(false);
            _released = true;
            _expiry.Dispose();
        }

        /// <summary>Marks the lease lost because record <paramref name="above"/> sits above this holder's, and says why.</summary>
        private async Task<string> DescribeAndMarkLostAsync(long above, CancellationToken cancellationToken)
        {
            _expiry.MarkLost();
            NewestRecord record;
            try
            {
                record = await _owner.ReadAsync(_folder, Name, above, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Boundary: the record is there (it was listed); what it says only words the message.
                return $"another holder took it over (record {above})";
            }

            if (record.Reading.Record is null)
            {
                Log.LeaseLostToUnauthenticatedRecord(_owner._logger, Name, FencingToken, above, record.Reading.Problem!);
                return $"record {above} above its own cannot be authenticated ({record.Reading.Problem}): it was forged, tampered with or written with another key, so this holder stops";
            }

            return $"another holder took it over (record {above}, holder {record.Reading.Record.Holder})";
        }
    }
}
