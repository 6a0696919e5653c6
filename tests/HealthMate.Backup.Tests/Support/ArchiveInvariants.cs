using System.Security.Cryptography;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// What must hold in a store whatever faults it went through: every manifest (backups and archived WAL) names data that
/// is there, with the stored size and SHA-256 the manifest records. A manifest without its data is the silent loss the
/// fault-injection tests look for.
/// </summary>
internal static class ArchiveInvariants
{
    /// <summary>The manifests whose data is missing or different, as "key: problem"; empty when the store is sound.</summary>
    internal static async Task<List<string>> FindManifestsWithoutDataAsync(IServiceProvider services)
    {
        var storage = services.GetRequiredService<IStorageProvider>();
        var layout = services.GetRequiredService<StorageLayout>();
        var keyed = services.GetRequiredService<KeyedObjectStore>();
        var problems = new List<string>();
        await foreach (var manifest in services.GetRequiredService<IBackupCatalog>().ListAsync())
        {
            foreach (var (name, data) in ObjectsOf(manifest))
            {
                if (await CheckAsync(storage, layout.Prefix + data.Key, data) is { } problem)
                {
                    problems.Add($"{manifest.Kind}/{manifest.BackupId} {name}: {problem}");
                }
            }
        }

        await foreach (var key in keyed.ListAsync("wal/", CancellationToken.None))
        {
            var manifest = await keyed.FindAsync(key, "wal", CancellationToken.None);
            if (manifest is null)
            {
                problems.Add($"{key}: listed but its manifest cannot be read");
            }
            else if (await CheckAsync(storage, layout.Prefix + manifest.Data.Key, manifest.Data) is { } problem)
            {
                problems.Add($"{key}: {problem}");
            }
        }

        return problems;
    }

    internal static async Task AssertNoManifestWithoutDataAsync(IServiceProvider services)
    {
        var problems = await FindManifestsWithoutDataAsync(services);
        Assert.True(problems.Count == 0, "manifests without their data:\n" + string.Join("\n", problems));
    }

    private static IEnumerable<(string Name, ManifestData Data)> ObjectsOf(BackupManifest manifest) =>
        new[] { (StorageLayout.DataName, manifest.Data) }.Concat((manifest.Objects ?? new Dictionary<string, ManifestData>()).Select(o => (o.Key, o.Value)));

    private static async Task<string?> CheckAsync(IStorageProvider storage, string key, ManifestData data)
    {
        Stream stream;
        try
        {
            stream = await storage.OpenReadAsync(key);
        }
        catch (StorageObjectNotFoundException)
        {
            return $"data '{key}' is missing";
        }

        await using (stream)
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 20];
            long size = 0;
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                size += read;
            }

            var sha = Convert.ToHexStringLower(hash.GetHashAndReset());
            return size == data.StoredSize && sha == data.StoredSha256 ? null : $"data '{key}' is {size} bytes with SHA-256 {sha}, the manifest says {data.StoredSize} bytes {data.StoredSha256}";
        }
    }
}
