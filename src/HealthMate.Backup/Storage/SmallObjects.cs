namespace HealthMate.Backup.Storage;

/// <summary>Reads small objects (manifests, records) whole, never more than a bound.</summary>
internal static class SmallObjects
{
    /// <summary>The most an authenticated document (manifest, verification or job record) may hold.</summary>
    internal const int MaxDocumentSize = 1024 * 1024;

    /// <summary>Reads an object whole, up to <paramref name="maxBytes"/> + 1 bytes, so a caller can tell an oversize
    /// object from one of exactly the limit.</summary>
    internal static async Task<byte[]> ReadSmallAsync(this IStorageProvider storage, string key, int maxBytes, CancellationToken cancellationToken)
    {
        var stream = await storage.OpenReadAsync(key, new ByteRange(0, maxBytes + 1L), cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }
    }
}
