using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Leases;

/// <summary>
/// Leader leases kept in the backup storage itself, for hosts without a database: each grant, renewal and release is
/// a new record <c>{prefix}leases/{name}/{sequence}</c> created with put-if-absent, so of two hosts racing for the
/// same next record exactly one wins. The record with the highest sequence says who holds the lease and until when;
/// once that time (plus <see cref="StorageLeaseOptions.MaxClockSkew"/>) has passed, anyone may take it. The fencing
/// token is the sequence of the grant, so it grows with every grant and is never reused (the highest record is never
/// deleted). See docs/operations.md.
/// </summary>
public sealed class StorageLeaseProvider : ILeaseProvider
{
    private readonly IStorageProvider _storage;
    private readonly string _prefix;
    private readonly TimeProvider _time;
    private readonly StorageLeaseOptions _options;

    /// <summary>Initializes a new instance of the <see cref="StorageLeaseProvider"/> class.</summary>
    /// <param name="storage">The store that holds the lease records (it must honour put-if-absent).</param>
    /// <param name="prefix">The storage prefix (the <c>BackupDR:Storage:Prefix</c>), or empty.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="options">Clock skew allowance and holder name.</param>
    public StorageLeaseProvider(IStorageProvider storage, string? prefix, TimeProvider timeProvider, StorageLeaseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _storage = storage;
        _prefix = new StorageLayout(prefix).Prefix + "leases/";
        _time = timeProvider;
        _options = options ?? new StorageLeaseOptions();
        if (_options.MaxClockSkew < TimeSpan.Zero || _options.MaxClockSkew > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.MaxClockSkew, "MaxClockSkew must be from zero to ten minutes.");
        }
    }

    /// <inheritdoc/>
    public async Task<ILease?> TryAcquireAsync(string name, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        LeaseNames.Validate(name, duration);
        if (duration < 2 * _options.MaxClockSkew)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, $"A storage lease must last at least twice MaxClockSkew ({_options.MaxClockSkew}): its holder counts it as lost MaxClockSkew before its end and renews it every third.");
        }

        var folder = _prefix + name + "/";
        var (sequence, current) = await ReadNewestAsync(folder, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        if (current is not null && now < current.ExpiresAt + _options.MaxClockSkew)
        {
            return null;
        }

        var granted = sequence + 1;
        var record = new LeaseRecord(Guid.NewGuid().ToString("N"), _options.HolderName, granted, now + duration);
        var sentAt = _time.GetTimestamp();
        if (!await _storage.PutIfAbsentAsync(RecordKey(folder, granted), record.ToBytes(), cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var lease = new Lease(this, folder, name, duration, record, granted, sentAt);
        await lease.RemoveOlderAsync(cancellationToken).ConfigureAwait(false);
        return lease;
    }

    private static string RecordKey(string folder, long sequence) => folder + sequence.ToString("D19", CultureInfo.InvariantCulture);

    private async Task<(long Sequence, LeaseRecord? Record)> ReadNewestAsync(string folder, CancellationToken cancellationToken)
    {
        // A record can vanish between the listing and the read (a holder removing older ones); then list again.
        for (var attempt = 0; ; attempt++)
        {
            var newest = (await ListSequencesAsync(folder, cancellationToken).ConfigureAwait(false)).DefaultIfEmpty().Max(r => r.Sequence);
            if (newest == 0)
            {
                return (0, null);
            }

            try
            {
                return (newest, await ReadAsync(RecordKey(folder, newest), cancellationToken).ConfigureAwait(false));
            }
            catch (StorageObjectNotFoundException) when (attempt < 3)
            {
            }
        }
    }

    private async Task<LeaseRecord> ReadAsync(string key, CancellationToken cancellationToken)
    {
        var bytes = await _storage.ReadSmallAsync(key, 64 * 1024, cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonSerializer.Deserialize(bytes, LeaseJsonContext.Default.LeaseRecord) ?? throw new BackupFormatException($"Lease record '{key}' is empty.");
        }
        catch (JsonException ex)
        {
            throw new BackupFormatException($"Lease record '{key}' is not a lease record: {ex.Message}", ex);
        }
    }

    /// <summary>A lease name's records and their sequence numbers.</summary>
    private async Task<List<(long Sequence, string Key)>> ListSequencesAsync(string folder, CancellationToken cancellationToken)
    {
        var records = new List<(long, string)>();
        await foreach (var item in _storage.ListAsync(folder, cancellationToken).ConfigureAwait(false))
        {
            if (long.TryParse(item.Key.AsSpan(folder.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
            {
                records.Add((sequence, item.Key));
            }
        }

        return records;
    }

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

        internal Lease(StorageLeaseProvider owner, string folder, string name, TimeSpan duration, LeaseRecord record, long sequence, long sentAt)
        {
            _owner = owner;
            _folder = folder;
            Name = name;
            _duration = duration;
            _holderId = record.HolderId;
            FencingToken = record.Token;
            _sequence = sequence;
            _expiry = new LeaseExpiry(sentAt, ValidFor, owner._time);
        }

        public string Name { get; }

        public long FencingToken { get; }

        public DateTimeOffset ExpiresAt => _expiry.ExpiresAt;

        public CancellationToken Lost => _expiry.Token;

        /// <summary>How long after sending a record the holder counts the lease as its own: a margin before the end.</summary>
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

                var next = new LeaseRecord(_holderId, _owner._options.HolderName, FencingToken, _owner._time.GetUtcNow() + _duration);
                var sentAt = _expiry.Timestamp();
                bool written;
                try
                {
                    written = await _owner._storage.PutIfAbsentAsync(RecordKey(_folder, _sequence + 1), next.ToBytes(), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Boundary: a store that cannot be reached does not end the lease yet; it expires on its own clock.
                    return !_expiry.HasLapsed;
                }

                if (!written)
                {
                    _expiry.MarkLost();
                    return false;
                }

                _sequence++;
                _expiry.Extend(sentAt, ValidFor);
                await RemoveOlderAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
            finally
            {
                _gate.Release();
            }
        }

        public async Task EnsureHeldAsync(CancellationToken cancellationToken = default)
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

            if (await _owner._storage.StatAsync(RecordKey(_folder, Interlocked.Read(ref _sequence) + 1), cancellationToken).ConfigureAwait(false) is not null)
            {
                _expiry.MarkLost();
                throw new LeaseLostException(Name, FencingToken, "another holder took it over");
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _gate.WaitAsync().ConfigureAwait(false);
            try
            {
                if (!_released && !_expiry.HasLapsed)
                {
                    // Release: a record that has already expired, so the next holder need not wait; the sequence keeps
                    // growing, so the next grant's token is larger than ours.
                    var released = new LeaseRecord(_holderId, _owner._options.HolderName, FencingToken, _owner._time.GetUtcNow() - _owner._options.MaxClockSkew - TimeSpan.FromMilliseconds(1));
                    try
                    {
                        await _owner._storage.PutIfAbsentAsync(RecordKey(_folder, _sequence + 1), released.ToBytes(), CancellationToken.None).ConfigureAwait(false);
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

        /// <summary>Removes this name's records below the newest one (best effort; never the newest).</summary>
        internal async Task RemoveOlderAsync(CancellationToken cancellationToken)
        {
            try
            {
                foreach (var (_, key) in (await _owner.ListSequencesAsync(_folder, cancellationToken).ConfigureAwait(false)).Where(r => r.Sequence < _sequence))
                {
                    await _owner._storage.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Boundary: old records are only clutter; the next grant or renewal removes them.
            }
        }
    }
}

/// <summary>Options of the storage lease.</summary>
public sealed class StorageLeaseOptions
{
    /// <summary>Gets or sets how much later than the holder's expiry another host takes the lease over, to allow for
    /// clocks that disagree (from zero to ten minutes).</summary>
    /// <value>The default value is two seconds.</value>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Gets or sets the holder's name written in the lease records, for operators (not a secret).</summary>
    /// <value>The default value is the machine name and process id.</value>
    public string HolderName { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId}";
}

/// <summary>One lease record: who holds the lease, under which token, until when.</summary>
internal sealed record LeaseRecord(string HolderId, string Holder, long Token, DateTimeOffset ExpiresAt)
{
    internal byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, LeaseJsonContext.Default.LeaseRecord);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(LeaseRecord))]
internal sealed partial class LeaseJsonContext : JsonSerializerContext;
