using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using HealthMate.Backup.Telemetry;

namespace HealthMate.Backup.Storage.Replication;

/// <summary>
/// Makes the copies of committed objects on the replicas, each verified by reading it back (SHA-256), in commit order
/// per replica: a copy that fails is owed, and a replica that owes copies gets no later object before them (each later
/// copy first retries what is owed), so a replica never holds a manifest ahead of the data it names.
/// </summary>
internal sealed class ReplicaCopier(IStorageProvider primary, IReadOnlyList<IStorageProvider> replicas)
{
    private static readonly UpDownCounter<long> Failed = BackupTelemetry.Meter.CreateUpDownCounter<long>("healthmate.backup.replication.failed", "{copy}", "Copies to replicas owed after a failure (or waiting behind one), not yet made.");
    private readonly Dictionary<IStorageProvider, ReplicaBacklog> _backlogs = replicas.ToDictionary<IStorageProvider, IStorageProvider, ReplicaBacklog>(r => r, _ => new ReplicaBacklog(), ReferenceEqualityComparer.Instance);

    /// <summary>The copies owed, by key: the replica and why.</summary>
    internal IReadOnlyDictionary<string, string> Owed() =>
        _backlogs.SelectMany(b => b.Value.Snapshot().Select(o => (o.Key, Reason: $"{b.Key.Name}: {o.Reason}")))
            .GroupBy(o => o.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().Reason, StringComparer.Ordinal);

    /// <summary>Forgets the copies owed of keys under a prefix (a repair has made them).</summary>
    internal void ForgetUnder(string prefix)
    {
        foreach (var backlog in _backlogs.Values)
        {
            Failed.Add(-backlog.Remove(k => k.StartsWith(prefix, StringComparison.Ordinal)));
        }
    }

    /// <summary>Copies a committed object to each replica, after what that replica owes; a copy that fails is owed, not
    /// thrown: the object is committed on the primary either way. A cancelled copy is owed too, then the cancellation
    /// goes on to the caller.</summary>
    internal async Task CopyToEveryReplicaAsync(string key, bool overwrite, CancellationToken cancellationToken)
    {
        foreach (var replica in replicas)
        {
            var backlog = _backlogs[replica];
            if (backlog.IsEmpty)
            {
                // Nothing owed: copy now, alongside other runs' copies.
                if (await TryCopyAsync(key, replica, overwrite, cancellationToken).ConfigureAwait(false) is { } failure)
                {
                    Owe(replica, key, overwrite, failure);
                }

                continue;
            }

            await backlog.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                foreach (var owed in backlog.Snapshot())
                {
                    if (await TryCopyAsync(owed.Key, replica, owed.Overwrite, cancellationToken).ConfigureAwait(false) is { } stillFailing)
                    {
                        backlog.Add(owed.Key, owed.Overwrite, stillFailing);
                        break;
                    }

                    Failed.Add(-backlog.Remove(k => k == owed.Key));
                }

                if (!backlog.IsEmpty)
                {
                    Owe(replica, key, overwrite, "waiting behind earlier copies this replica owes");
                }
                else if (await TryCopyAsync(key, replica, overwrite, cancellationToken).ConfigureAwait(false) is { } failure)
                {
                    Owe(replica, key, overwrite, failure);
                }
            }
            finally
            {
                backlog.Gate.Release();
            }
        }
    }

    /// <summary>Makes one copy; returns why it failed, or null when it is made (or the object is gone from the primary:
    /// deleted since, nothing to copy). A cancellation by the caller is owed and rethrown.</summary>
    private async Task<string?> TryCopyAsync(string key, IStorageProvider replica, bool overwrite, CancellationToken cancellationToken)
    {
        try
        {
            await CopyAsync(key, replica, overwrite, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (PrimaryObjectGoneException)
        {
            return null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Owe(replica, key, overwrite, "cancelled");
            throw;
        }
        catch (Exception ex) when (ex is StorageException or IOException or HttpRequestException or TimeoutException or OperationCanceledException)
        {
            // Boundary: a copy that failed after the primary committed is a copy owed, not a failed commit.
            return ex.Message;
        }
    }

    internal void Owe(string key, bool overwrite, string reason)
    {
        foreach (var replica in replicas)
        {
            Owe(replica, key, overwrite, reason);
        }
    }

    private void Owe(IStorageProvider replica, string key, bool overwrite, string reason)
    {
        if (_backlogs[replica].Add(key, overwrite, reason))
        {
            Failed.Add(1);
        }
    }

    internal void Forget(string key)
    {
        foreach (var backlog in _backlogs.Values)
        {
            Failed.Add(-backlog.Remove(k => k == key));
        }
    }

    /// <summary>Copies one object from the primary to a replica and checks the copy's SHA-256 by reading it back.</summary>
    internal async Task CopyAsync(string key, IStorageProvider replica, bool overwrite, CancellationToken cancellationToken)
    {
        using var sourceHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Stream source;
        try
        {
            source = await primary.OpenReadAsync(key, null, cancellationToken).ConfigureAwait(false);
        }
        catch (StorageObjectNotFoundException ex)
        {
            throw new PrimaryObjectGoneException(ex);
        }

        await using (source.ConfigureAwait(false))
        {
            var writer = await replica.OpenWriteAsync(key, new StorageWriteOptions { Overwrite = overwrite }, cancellationToken).ConfigureAwait(false);
            await using (writer.ConfigureAwait(false))
            {
                var buffer = new byte[1024 * 1024];
                int read;
                while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    sourceHash.AppendData(buffer, 0, read);
                    await writer.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }

                try
                {
                    await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (StorageObjectExistsException)
                {
                    // Already there (a retried copy): the check below decides whether it is the same object.
                }
            }
        }

        var expected = Convert.ToHexStringLower(sourceHash.GetHashAndReset());
        var actual = await HashAsync(replica, key, cancellationToken).ConfigureAwait(false);
        if (actual != expected)
        {
            throw new StorageException($"The copy of '{key}' in {replica.Name} differs from the primary's (SHA-256 {actual}, expected {expected}).", key, isTransient: false);
        }
    }

    internal static async Task<string> HashAsync(IStorageProvider provider, string key, CancellationToken cancellationToken)
    {
        var stream = await provider.OpenReadAsync(key, null, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        }
    }

    /// <summary>The primary no longer has an object whose copy was owed (deleted since): there is nothing to copy.</summary>
    private sealed class PrimaryObjectGoneException(Exception inner) : Exception(inner.Message, inner);
}
