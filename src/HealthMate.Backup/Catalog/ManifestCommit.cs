using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Catalog;

/// <summary>What writing a manifest did, once settled.</summary>
internal enum ManifestCommitStatus
{
    /// <summary>The manifest holds exactly the bytes written: the object or backup exists.</summary>
    Committed,

    /// <summary>Another manifest holds the key (another writer won); <see cref="ManifestCommitOutcome.Existing"/> has its bytes.</summary>
    Occupied,

    /// <summary>The manifest is certainly not stored: the failure was definitive and reading back found nothing.</summary>
    NotCommitted,

    /// <summary>The write failed in a way that may still land (a lost or cut request), or reading back failed: nothing may
    /// be deleted that the manifest would name.</summary>
    Unsettled,
}

/// <summary>A settled manifest commit.</summary>
/// <param name="Status">What happened.</param>
/// <param name="Existing">The bytes of the manifest another writer stored, when <see cref="ManifestCommitStatus.Occupied"/>.</param>
/// <param name="Error">The error the write reported, if any (a <see cref="ManifestCommitStatus.Committed"/> manifest may have one: the response was lost).</param>
internal sealed record ManifestCommitOutcome(ManifestCommitStatus Status, byte[]? Existing, Exception? Error);

/// <summary>
/// The one commit point of a backup or an archived object: its manifest, written with put-if-absent (or, to repair an
/// object whose data is gone, over the old manifest). The data is stored first under a key no other writer uses. A write
/// that throws may still have happened (the retry of a PUT whose response was lost gets 412; a replica copy fails after
/// the primary committed; a cut connection's request lands later), so the outcome is settled by reading the manifest
/// back, and the data of an unsettled commit is never deleted: a manifest may name it. Retention removes data that no
/// manifest names once it is older than its grace period.
/// </summary>
internal static class ManifestCommit
{
    internal static async Task<ManifestCommitOutcome> WriteAsync(IStorageProvider storage, string key, byte[] manifest, bool overwrite, CancellationToken cancellationToken)
    {
        Exception error;
        try
        {
            var writer = await storage.OpenWriteAsync(key, new StorageWriteOptions { Overwrite = overwrite }, cancellationToken).ConfigureAwait(false);
            await using (writer.ConfigureAwait(false))
            {
                await writer.WriteAsync(manifest, cancellationToken).ConfigureAwait(false);
                await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            return new ManifestCommitOutcome(ManifestCommitStatus.Committed, null, null);
        }
        catch (Exception ex)
        {
            // Boundary: whatever the write reported, the manifest's presence decides; it is read back below.
            error = ex;
        }

        byte[]? stored;
        try
        {
            // Not the caller's token: a cancelled commit is settled too, bounded by the provider's own timeouts.
            stored = await storage.ReadSmallAsync(key, SmallObjects.MaxDocumentSize, CancellationToken.None).ConfigureAwait(false);
        }
        catch (StorageObjectNotFoundException)
        {
            stored = null;
        }
        catch (Exception ex) when (ex is StorageException or IOException or HttpRequestException or TimeoutException or OperationCanceledException)
        {
            return new ManifestCommitOutcome(ManifestCommitStatus.Unsettled, null, new AggregateException(error, ex));
        }

        if (stored is null)
        {
            return new ManifestCommitOutcome(MayStillLand(error) ? ManifestCommitStatus.Unsettled : ManifestCommitStatus.NotCommitted, null, error);
        }

        return stored.AsSpan().SequenceEqual(manifest)
            ? new ManifestCommitOutcome(ManifestCommitStatus.Committed, null, error)
            : new ManifestCommitOutcome(ManifestCommitStatus.Occupied, stored, error);
    }

    /// <summary>Whether a failed write may have reached the store anyway: a cut or timed-out request, a transient error,
    /// a cancellation mid-request, or an "exists" that reading back cannot confirm. A definitive refusal (a full disk,
    /// access denied, an invalid key) is not.</summary>
    private static bool MayStillLand(Exception error) => error switch
    {
        StorageObjectExistsException => true,
        StorageException storage => storage.IsTransient,
        OperationCanceledException or HttpRequestException or IOException or TimeoutException => true,
        _ => false,
    };
}
