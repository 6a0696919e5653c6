using HealthMate.Backup.Catalog;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup.Pipeline;

/// <summary>What every runner shares: options, storage, keyring, layout, clock.</summary>
internal sealed class BackupEnvironment(
    IOptions<BackupDROptions> options,
    IStorageProvider storage,
    BackupKeyRing keyRing,
    IBackupCatalog catalog,
    StorageLayout layout,
    TimeProvider timeProvider,
    ILoggerFactory loggerFactory)
{
    internal BackupDROptions Options { get; } = options.Value;

    internal IStorageProvider Storage { get; } = storage;

    internal BackupKeyRing KeyRing { get; } = keyRing;

    internal IBackupCatalog Catalog { get; } = catalog;

    internal TimeProvider TimeProvider { get; } = timeProvider;

    internal ILoggerFactory LoggerFactory { get; } = loggerFactory;

    internal StorageLayout Layout { get; } = layout;

    internal int Parallelism => Options.Pipeline.Parallelism;

    internal IEncryptor CreateEncryptor() => new AesGcmStreamingEncryptor(KeyRing, Options.Encryption.SegmentSize);
}
