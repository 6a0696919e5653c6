using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Catalog;

/// <summary>
/// Small authenticated JSON records (the manifest envelope with their own format name and HMAC key) under
/// time-sortable ids: <c>{folder}{id}.json</c>, written once with put-if-absent, listed by time. Job runs, recoveries,
/// playbook runs and the audit trail are kept this way.
/// </summary>
internal sealed class SealedRecords<T>(BackupEnvironment environment, EnvelopeKind envelope, JsonTypeInfo<T> json)
    where T : class
{
    /// <summary>The record's bytes as stored.</summary>
    internal byte[] Seal(T value) => ManifestSerializer.Seal(JsonSerializer.SerializeToUtf8Bytes(value, json), environment.KeyRing, envelope);

    /// <summary>Stores a record at <paramref name="key"/> (relative to the prefix); an existing one is never replaced.</summary>
    /// <returns><see langword="true"/> if this call stored it; <see langword="false"/> if one was there.</returns>
    internal async Task<bool> AddAsync(string key, T value, CancellationToken cancellationToken) =>
        await environment.Storage.PutIfAbsentAsync(environment.Layout.Prefix + key, Seal(value), cancellationToken).ConfigureAwait(false);

    /// <summary>Reads the record at <paramref name="key"/> (relative to the prefix), or <see langword="null"/> if there is none.</summary>
    internal async Task<T?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        var full = environment.Layout.Prefix + key;
        try
        {
            return Open(await environment.Storage.ReadSmallAsync(full, SmallObjects.MaxDocumentSize, cancellationToken).ConfigureAwait(false), full);
        }
        catch (StorageObjectNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The records in <paramref name="folder"/> (relative to the prefix, ending in <c>/</c>) whose id is at or
    /// after <paramref name="since"/>'s time, oldest first; one deleted meanwhile is skipped.</summary>
    internal async IAsyncEnumerable<T> ListAsync(string folder, DateTimeOffset since, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var prefix = environment.Layout.Prefix + folder;
        var sinceId = BackupId.TimePrefix(since);
        var keys = new List<string>();
        await foreach (var item in environment.Storage.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            var name = item.Key[prefix.Length..];
            if (name.EndsWith(".json", StringComparison.Ordinal) && BackupId.IsValid(name[..^5]) && string.CompareOrdinal(name, sinceId) >= 0)
            {
                keys.Add(item.Key);
            }
        }

        keys.Sort(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            byte[] bytes;
            try
            {
                bytes = await environment.Storage.ReadSmallAsync(key, SmallObjects.MaxDocumentSize, cancellationToken).ConfigureAwait(false);
            }
            catch (StorageObjectNotFoundException)
            {
                continue;
            }

            yield return Open(bytes, key);
        }
    }

    private T Open(byte[] bytes, string key)
    {
        var body = ManifestSerializer.Open(bytes, environment.KeyRing, key, envelope);
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(body, json);
        }
        catch (JsonException ex)
        {
            throw new BackupFormatException($"Record '{key}' is authentic but cannot be read by this version: {ex.Message}", ex);
        }

        return value ?? throw new BackupFormatException($"Record '{key}' is empty.");
    }
}
