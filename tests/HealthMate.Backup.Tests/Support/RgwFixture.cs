using Amazon.S3;
using Amazon.S3.Model;
using HealthMate.Backup.S3;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// A real S3 server for the tests: Ceph's RGW on a throwaway single-node cluster started (and removed afterwards) by
/// scripts/ceph-rgw.sh, which installs the Ceph packages when missing; or the server named by S3_ENDPOINT,
/// S3_ACCESS_KEY, S3_SECRET_KEY. No fake: if the server cannot be had, every S3 test fails with the reason.
/// </summary>
public sealed class RgwFixture : IAsyncLifetime
{
    private const string ClusterPrefix = "hm-rgw-tests-";
    private string? _ownedDirectory;

    internal string Endpoint { get; private set; } = string.Empty;

    internal string AccessKey { get; private set; } = string.Empty;

    internal string SecretKey { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("S3_ENDPOINT") is { } endpoint)
        {
            Endpoint = endpoint;
            AccessKey = Environment.GetEnvironmentVariable("S3_ACCESS_KEY") ?? throw new InvalidOperationException("S3_ENDPOINT is set but S3_ACCESS_KEY is not.");
            SecretKey = Environment.GetEnvironmentVariable("S3_SECRET_KEY") ?? throw new InvalidOperationException("S3_ENDPOINT is set but S3_SECRET_KEY is not.");
            return;
        }

        await ServiceScripts.ReapAbandonedAsync(ClusterPrefix, d => RunScriptAsync("stop", d));
        _ownedDirectory = Path.Combine(Path.GetTempPath(), $"{ClusterPrefix}{Guid.NewGuid():N}");
        Directory.CreateDirectory(_ownedDirectory);
        await RunScriptAsync("start", _ownedDirectory);
        await ServiceScripts.ClaimAsync(_ownedDirectory);
        var env = File.ReadAllLines(Path.Combine(_ownedDirectory, "env")).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        (Endpoint, AccessKey, SecretKey) = (env["S3_ENDPOINT"], env["S3_ACCESS_KEY"], env["S3_SECRET_KEY"]);
    }

    public async Task DisposeAsync()
    {
        if (_ownedDirectory is not null)
        {
            await RunScriptAsync("stop", _ownedDirectory);
        }
    }

    internal S3StorageOptions Options(string bucket, int partSize = S3StorageOptions.MinPartSize) => new()
    {
        Bucket = bucket,
        ServiceUrl = Endpoint,
        Compatibility = S3Compatibility.S3Compatible,
        AccessKeyId = AccessKey,
        SecretAccessKey = SecretKey,
        PartSize = partSize,
        MaxRetries = 2,
    };

    /// <summary>Stops or starts only the gateway of the fixture's own cluster (an S3 outage), keeping its data.</summary>
    internal Task SetGatewayAsync(bool running) => _ownedDirectory is null
        ? throw new InvalidOperationException("Stopping the gateway needs the fixture's own cluster (unset S3_ENDPOINT).")
        : RunScriptAsync(running ? "rgw-start" : "rgw-stop", _ownedDirectory);

    /// <summary>A test host whose active storage is the S3 provider with these options (TestHost registers local storage
    /// after its callback: post-configure wins).</summary>
    internal static TestHost Host(S3StorageOptions options, Action<IServiceCollection>? more = null, byte[]? key = null) => new(key: key, services: s =>
    {
        more?.Invoke(s);
        s.AddBackupDR().AddS3Storage(o => CopyOptions(options, o));
        s.PostConfigure<BackupDROptions>(o => o.Storage.Provider = "s3");
    });

    internal static void CopyOptions(S3StorageOptions from, S3StorageOptions to)
    {
        to.Bucket = from.Bucket;
        to.ServiceUrl = from.ServiceUrl;
        to.Compatibility = from.Compatibility;
        to.AccessKeyId = from.AccessKeyId;
        to.SecretAccessKey = from.SecretAccessKey;
        to.PartSize = from.PartSize;
        to.PartsInFlight = from.PartsInFlight;
        to.MaxRetries = from.MaxRetries;
        to.RequestTimeout = from.RequestTimeout;
    }

    /// <summary>Creates a fresh bucket and returns its name.</summary>
    internal async Task<string> CreateBucketAsync()
    {
        var bucket = $"hm-{Guid.NewGuid():N}"[..24];
        using var client = S3StorageProvider.CreateClient(Options(bucket));
        await client.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
        return bucket;
    }

    /// <summary>The multipart uploads a bucket still holds (none may remain after a failed or aborted write).</summary>
    internal async Task<int> OpenUploadsAsync(string bucket)
    {
        using var client = S3StorageProvider.CreateClient(Options(bucket));
        var uploads = await client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket });
        return uploads.MultipartUploads?.Count ?? 0;
    }

    private static Task RunScriptAsync(string command, string directory) =>
        ServiceScripts.RunAsync("ceph-rgw.sh", "the S3 tests need a real RGW", [command], new Dictionary<string, string> { ["CEPH_RGW_DIR"] = directory });

    internal async Task<byte[]> DownloadAsync(string bucket, string key)
    {
        using var client = S3StorageProvider.CreateClient(Options(bucket));
        using var response = await client.GetObjectAsync(bucket, key);
        using var buffer = new MemoryStream();
        await response.ResponseStream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

}

/// <summary>The RGW tests run alone (after the others): one stops the gateway, one measures the process's managed memory.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RgwCollection : ICollectionFixture<RgwFixture>
{
    internal const string Name = "rgw";
}
