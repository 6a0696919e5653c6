using System.Security.Cryptography;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Tests.Support;

/// <summary>A real service provider over a temporary local storage folder, built the way a host builds it.</summary>
internal sealed class TestHost : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly bool _keepRoot;

    internal TestHost(Action<BackupDROptions>? configure = null, string? root = null, byte[]? key = null, Action<IServiceCollection>? services = null, bool keepRoot = false, Func<IStorageProvider, IStorageProvider>? wrapStorage = null)
    {
        _keepRoot = keepRoot;
        Root = root ?? Directory.CreateTempSubdirectory("hmb-test-").FullName;
        Key = key ?? RandomNumberGenerator.GetBytes(32);
        var collection = new ServiceCollection();
        services?.Invoke(collection);
        collection.AddBackupDR(options =>
        {
            options.Encryption.ActiveKeyId = "test-key";
            options.Encryption.Keys.Add(new BackupKeyOptions { Id = "test-key", Base64 = Convert.ToBase64String(Key) });
            options.Pipeline.Parallelism = 2;
            configure?.Invoke(options);
        }).AddLocalStorage(local =>
        {
            local.Path = Root;
            local.FlushToDisk = false;
        });
        if (wrapStorage is not null)
        {
            // The local provider, wrapped by the test (a fault injector), becomes the active storage.
            collection.AddKeyedSingleton<IStorageProvider>("wrapped", (sp, _) => wrapStorage(sp.GetRequiredKeyedService<IStorageProvider>("local")));
            collection.PostConfigure<BackupDROptions>(o => o.Storage.Provider = "wrapped");
        }

        _services = collection.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        if (wrapStorage is not null)
        {
            _ = Storage; // builds the wrapper now, so the test holds it before the first operation
        }
    }

    internal string Root { get; }

    internal byte[] Key { get; }

    internal IBackupRunner Backups => _services.GetRequiredService<IBackupRunner>();

    internal IRestoreRunner Restores => _services.GetRequiredService<IRestoreRunner>();

    internal IVerifyRunner Verifier => _services.GetRequiredService<IVerifyRunner>();

    internal IBackupCatalog Catalog => _services.GetRequiredService<IBackupCatalog>();

    internal IStorageProvider Storage => _services.GetRequiredService<IStorageProvider>();

    internal IServiceProvider Services => _services;

    internal static void Small(BackupDROptions options, CompressionAlgorithm algorithm, bool encrypted)
    {
        options.Compression.Algorithm = algorithm;
        options.Compression.BlockSize = CompressionOptions.MinBlockSize;
        options.Encryption.Enabled = encrypted;
        options.Encryption.SegmentSize = 4096;
    }

    internal async Task<BackupResult> BackupBytesAsync(byte[] payload, int writeChunk = 8192, string kind = "stream", CancellationToken cancellationToken = default) =>
        await Backups.RunAsync(BytesSource(payload, writeChunk, kind), cancellationToken: cancellationToken);

    internal async Task<byte[]> RestoreBytesAsync(string backupId, int readChunk = 8192, CancellationToken cancellationToken = default)
    {
        var target = new CollectingTarget(readChunk);
        await Restores.RestoreAsync(backupId, target, cancellationToken: cancellationToken);
        return target.Bytes;
    }

    internal string PathOf(string key) => Path.Combine(Root, key);

    internal static string ManifestKey(BackupResult backup) => backup.Manifest.Data.Key[..^"data".Length] + "manifest.json";

    /// <summary>Copies every file of a folder tree, as an operator copying a backup store would.</summary>
    internal static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination, overwrite: true);
        }
    }

    internal static IBackupSource BytesSource(byte[] payload, int writeChunk, string kind = "stream") =>
        BackupSources.Create(kind, "test payload", async (destination, _, cancellationToken) =>
        {
            for (var offset = 0; offset < payload.Length; offset += writeChunk)
            {
                await destination.WriteAsync(payload.AsMemory(offset, Math.Min(writeChunk, payload.Length - offset)), cancellationToken);
            }
        });

    /// <summary>Lists every file under the storage root, including temporary ones.</summary>
    internal string[] AllFiles() => Directory.Exists(Root)
        ? Directory.GetFiles(Root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Root, f)).Order(StringComparer.Ordinal).ToArray()
        : [];

    public void Dispose()
    {
        _services.Dispose();
        if (_keepRoot)
        {
            return;
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>Reads the restored stream with a given read size and keeps the bytes.</summary>
    internal sealed class CollectingTarget(int readChunk) : IRestoreTarget
    {
        private readonly MemoryStream _bytes = new();

        internal byte[] Bytes => _bytes.ToArray();

        public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default)
        {
            var buffer = new byte[readChunk];
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                _bytes.Write(buffer, 0, read);
            }
        }
    }
}
