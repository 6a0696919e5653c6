using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Recovery;

/// <summary>Small authenticated JSON records under time-sortable ids (<c>{folder}/{id}.json</c>): written once, listed by time.</summary>
internal sealed class SealedRecords<T>(BackupEnvironment environment, string folder, EnvelopeKind envelope, JsonTypeInfo<T> json)
    where T : class
{
    private string Prefix => environment.Layout.Prefix + folder;

    internal async Task AddAsync(string id, T value, CancellationToken cancellationToken)
    {
        var bytes = ManifestSerializer.Seal(JsonSerializer.SerializeToUtf8Bytes(value, json), environment.KeyRing, envelope);
        await environment.Storage.PutIfAbsentAsync($"{Prefix}{id}.json", bytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records whose id is at or after <paramref name="since"/>'s time prefix, oldest first.</summary>
    internal async IAsyncEnumerable<T> ListAsync(DateTimeOffset since, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var sinceId = BackupId.TimePrefix(since);
        var keys = new List<string>();
        await foreach (var item in environment.Storage.ListAsync(Prefix, cancellationToken).ConfigureAwait(false))
        {
            var name = item.Key[Prefix.Length..];
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

            yield return value ?? throw new BackupFormatException($"Record '{key}' is empty.");
        }
    }
}
