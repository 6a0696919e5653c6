using System.Runtime.CompilerServices;
using System.Text.Json;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Verification;

/// <summary>Verification records as small authenticated JSON objects beside their backup, written with put-if-absent.</summary>
internal sealed class VerificationRecords(BackupEnvironment environment) : IVerificationRecords
{
    internal const string Folder = "verifications";
    private static readonly EnvelopeKind Envelope = new("healthmate-backup-verification", "record", KeyDerivation.RecordMacKeyInfo);

    public async Task<VerificationRecord> AddAsync(BackupManifest backup, string method, DateTimeOffset startedAt, Exception? failure, IReadOnlyDictionary<string, string>? details = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backup);
        if (method is not ("checksum" or "full" or "deep" or "test-restore"))
        {
            throw new ArgumentException($"Verification method '{method}' is not checksum, full, deep or test-restore.", nameof(method));
        }

        var completedAt = environment.TimeProvider.GetUtcNow();
        var record = new VerificationRecord
        {
            RecordId = BackupId.New(environment.TimeProvider),
            BackupId = backup.BackupId,
            Kind = backup.Kind,
            Method = method,
            StartedAt = startedAt,
            CompletedAt = completedAt,
            DurationSeconds = Math.Round((completedAt - startedAt).TotalSeconds, 3),
            Succeeded = failure is null,
            Failure = failure?.Message,
            Details = new SortedDictionary<string, string>((IDictionary<string, string>?)details?.ToDictionary(d => d.Key, d => d.Value, StringComparer.Ordinal) ?? new Dictionary<string, string>(), StringComparer.Ordinal),
        };
        var body = JsonSerializer.SerializeToUtf8Bytes(record, VerificationRecordJsonContext.Default.VerificationRecord);
        var key = KeyOf(backup.Kind, backup.BackupId, record.RecordId);
        if (!await environment.Storage.PutIfAbsentAsync(key, ManifestSerializer.Seal(body, environment.KeyRing, Envelope), cancellationToken).ConfigureAwait(false))
        {
            throw new IOException($"Verification record '{key}' already exists.");
        }

        return record;
    }

    public async IAsyncEnumerable<VerificationRecord> ListAsync(string kind, string backupId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        BackupId.Validate(backupId);
        if (!StorageLayout.IsValidKind(kind))
        {
            throw new ArgumentException($"'{kind}' is not a backup kind.", nameof(kind));
        }

        // Record ids sort by millisecond; two records of one millisecond are ordered by when they completed.
        var records = new List<VerificationRecord>();
        var prefix = $"{environment.Layout.KindPrefix(kind)}{backupId}/{Folder}/";
        await foreach (var item in environment.Storage.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            var recordId = item.Key[prefix.Length..];
            if (!recordId.EndsWith(".json", StringComparison.Ordinal) || !BackupId.IsValid(recordId[..^5]))
            {
                continue;
            }

            var bytes = await environment.Storage.ReadSmallAsync(item.Key, SmallObjects.MaxDocumentSize, cancellationToken).ConfigureAwait(false);
            var record = Read(bytes, item.Key);
            if (record.BackupId != backupId || record.Kind != kind || record.RecordId != recordId[..^5])
            {
                throw new ManifestAuthenticationException(item.Key, $"it records {record.Kind}/{record.BackupId}/{record.RecordId} but is stored elsewhere");
            }

            records.Add(record);
        }

        foreach (var record in records.OrderBy(r => r.CompletedAt).ThenBy(r => r.RecordId, StringComparer.Ordinal))
        {
            yield return record;
        }
    }

    private VerificationRecord Read(byte[] bytes, string key)
    {
        var body = ManifestSerializer.Open(bytes, environment.KeyRing, key, Envelope);
        try
        {
            return JsonSerializer.Deserialize(body, VerificationRecordJsonContext.Default.VerificationRecord)
                ?? throw new BackupFormatException($"Verification record '{key}' is empty.");
        }
        catch (JsonException ex)
        {
            throw new BackupFormatException($"Verification record '{key}' is authentic but cannot be read by this version: {ex.Message}", ex);
        }
    }

    private string KeyOf(string kind, string backupId, string recordId) => $"{environment.Layout.KindPrefix(kind)}{backupId}/{Folder}/{recordId}.json";
}
