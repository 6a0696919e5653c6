using System.Security.Cryptography;
using HealthMate.Backup.S3;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Tests.Storage;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace HealthMate.Backup.Tests.S3;

/// <summary>The storage conformance suite against a real RGW, with 5 MiB parts so large objects go multipart.</summary>
[Collection(RgwCollection.Name)]
public sealed class S3StorageProviderTests(RgwFixture rgw) : StorageProviderConformanceTests, IAsyncLifetime
{
    private S3StorageProvider _provider = null!;
    private string _bucket = null!;

    protected override IStorageProvider Provider => _provider;

    public async Task InitializeAsync()
    {
        _bucket = await rgw.CreateBucketAsync();
        _provider = new S3StorageProvider(rgw.Options(_bucket));
    }

    public Task DisposeAsync()
    {
        _provider.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task MultipartETag_IsTheOneTheServerGivesACompletedUpload()
    {
        // How a conditional complete whose first attempt landed is told apart from another writer's object (AWS mode).
        using var client = S3StorageProvider.CreateClient(rgw.Options(_bucket));
        var content = RandomBytes((11 * 1024 * 1024) + 5);
        var upload = await client.InitiateMultipartUploadAsync(new Amazon.S3.Model.InitiateMultipartUploadRequest { BucketName = _bucket, Key = "etag/object" });
        var parts = new List<Amazon.S3.Model.PartETag>();
        for (int offset = 0, number = 1; offset < content.Length; offset += 5 * 1024 * 1024, number++)
        {
            var length = Math.Min(5 * 1024 * 1024, content.Length - offset);
            var part = await client.UploadPartAsync(new Amazon.S3.Model.UploadPartRequest { BucketName = _bucket, Key = "etag/object", UploadId = upload.UploadId, PartNumber = number, InputStream = new MemoryStream(content, offset, length), PartSize = length });
            parts.Add(new Amazon.S3.Model.PartETag(number, part.ETag));
        }

        await client.CompleteMultipartUploadAsync(new Amazon.S3.Model.CompleteMultipartUploadRequest { BucketName = _bucket, Key = "etag/object", UploadId = upload.UploadId, PartETags = parts });
        var head = await client.GetObjectMetadataAsync(_bucket, "etag/object");

        Assert.Equal(head.ETag, S3StorageProvider.MultipartETag(parts.Select(p => p.ETag)), ignoreCase: true);
    }

    [Fact]
    public async Task LargeObject_GoesMultipart_ReadsBack_AndCarriesItsSha256()
    {
        var content = RandomBytes(23 * 1024 * 1024 + 17); // five parts of 5 MiB, the last short
        var sha = Convert.ToHexStringLower(SHA256.HashData(content));
        await using (var writer = await Provider.OpenWriteAsync("big/object", new StorageWriteOptions { ContentSha256 = sha }))
        {
            for (var offset = 0; offset < content.Length; offset += 1_000_000)
            {
                await writer.WriteAsync(content.AsMemory(offset, Math.Min(1_000_000, content.Length - offset)));
            }

            Assert.Equal(1, await rgw.OpenUploadsAsync(_bucket)); // parts go up while writing
            await writer.CommitAsync();
        }

        Assert.Equal(content, await ReadAsync("big/object"));
        Assert.Equal(content[(7 * 1024 * 1024)..(7 * 1024 * 1024 + 10)], await ReadAsync("big/object", new ByteRange(7 * 1024 * 1024, 10)));
        Assert.Equal(0, await rgw.OpenUploadsAsync(_bucket));
        using var client = S3StorageProvider.CreateClient(rgw.Options(_bucket));
        Assert.Equal(sha, (await client.GetObjectMetadataAsync(_bucket, "big/object")).Metadata["sha256"]);
    }

    [Fact]
    public async Task AbortedMultipartWrite_LeavesNoObjectAndNoUpload()
    {
        await using (var writer = await Provider.OpenWriteAsync("aborted/object"))
        {
            await writer.WriteAsync(RandomBytes(12 * 1024 * 1024));
        }

        Assert.Null(await Provider.StatAsync("aborted/object"));
        Assert.Equal(0, await rgw.OpenUploadsAsync(_bucket));
    }

    [Fact]
    public async Task CancelledMultipartWrite_LeavesNoUpload()
    {
        using var cancel = new CancellationTokenSource();
        await using (var writer = await Provider.OpenWriteAsync("cancelled/multipart"))
        {
            await writer.WriteAsync(RandomBytes(11 * 1024 * 1024));
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => writer.WriteAsync(RandomBytes(6 * 1024 * 1024), cancel.Token).AsTask());
        }

        Assert.Null(await Provider.StatAsync("cancelled/multipart"));
        Assert.Equal(0, await rgw.OpenUploadsAsync(_bucket));
    }

    [Fact]
    public async Task BatchDelete_RemovesManyKeysInOneCall_AndReportsHowMany()
    {
        var keys = Enumerable.Range(0, 1500).Select(i => $"batch/{i:D4}").ToList();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (key, ct) => await Provider.PutIfAbsentAsync(key, new byte[] { 1 }, ct));

        var deleted = await _provider.DeleteManyAsync([.. keys, "batch/never-there"]);

        Assert.Equal(1501, deleted);
        Assert.Empty(await Provider.ListAsync("batch/").ToListAsync());
    }

    [Fact]
    public async Task Listing_PagesThroughThousandsOfKeys_InOrder()
    {
        var keys = Enumerable.Range(0, 2100).Select(i => $"many/{i:D5}").ToList();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (key, ct) => await Provider.PutIfAbsentAsync(key, new byte[] { 1 }, ct));

        var listed = await Provider.ListAsync("many/").Select(i => i.Key).ToListAsync();

        Assert.Equal(keys, listed);
    }

    [Fact]
    public async Task Backup_StreamsThroughThePipelineToS3_AndRestoresByteEqual_WithNothingLeftOnFailure()
    {
        using var host = RgwFixture.Host(rgw.Options(_bucket));
        var payload = Payloads.Create(40 * 1024 * 1024, seed: 5, style: 1);
        var backup = await host.BackupBytesAsync(payload, writeChunk: 1 << 20);

        Assert.Equal(payload, await host.RestoreBytesAsync(backup.BackupId));
        var stored = await rgw.DownloadAsync(_bucket, backup.Manifest.Data.Key);
        Assert.Equal(backup.Manifest.Data.StoredSha256, Convert.ToHexStringLower(SHA256.HashData(stored)));
        Assert.True((await host.Verifier.VerifyAsync(backup.BackupId)).IsValid);

        // A source that fails after 20 MiB: no object, no manifest, no upload left in the bucket.
        var before = await Provider.ListAsync("").Select(i => i.Key).ToListAsync();
        await Assert.ThrowsAsync<BackupStageException>(() => host.Backups.RunAsync(BackupSources.Create("stream", "failing", async (destination, _, ct) =>
        {
            await destination.WriteAsync(Payloads.Create(20 * 1024 * 1024, 9, 2), ct);
            throw new IOException("the source broke");
        })).AsTask());
        Assert.Equal(before, await Provider.ListAsync("").Select(i => i.Key).ToListAsync());
        Assert.Equal(0, await rgw.OpenUploadsAsync(_bucket));
        Assert.Single(await host.Catalog.ListAsync().ToListAsync());
    }

    [Fact]
    public async Task WrongCredentials_AndAMissingBucket_GiveClearErrors_WithoutTheSecret()
    {
        var wrong = rgw.Options(_bucket);
        wrong.SecretAccessKey = "not-the-secret-0123456789abcdef";
        using var denied = new S3StorageProvider(wrong);
        var error = await Assert.ThrowsAsync<StorageException>(() => denied.OpenReadAsync("any/key").AsTask());
        Assert.Contains(_bucket, error.Message, StringComparison.Ordinal);
        Assert.Contains("access denied", error.Message, StringComparison.Ordinal);
        Assert.False(error.IsTransient);
        Assert.DoesNotContain(wrong.SecretAccessKey, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(rgw.SecretKey, error.ToString(), StringComparison.Ordinal);

        using var missing = new S3StorageProvider(rgw.Options("hm-no-such-bucket-here"));
        var noBucket = await Assert.ThrowsAsync<StorageException>(() => missing.PutIfAbsentAsync("k", new byte[] { 1 }).AsTask());
        Assert.Contains("bucket 'hm-no-such-bucket-here' does not exist", noBucket.Message, StringComparison.Ordinal);

        var logs = new FakeLogCollector();
        using var host = RgwFixture.Host(wrong, s => s.AddSingleton<ILoggerFactory>(new FakeLoggerProviderFactory(logs)));
        await Assert.ThrowsAnyAsync<BackupException>(() => host.BackupBytesAsync([1, 2, 3]));
        Assert.DoesNotContain(wrong.SecretAccessKey, string.Join("\n", logs.GetSnapshot().Select(r => r.Message + " " + r.Exception)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoreThatIgnoresIfNoneMatch_IsRefusedBeforeAnyWrite()
    {
        // RGW itself honours the condition; this client drops it from every PUT, as a store that ignores it would.
        var options = rgw.Options(_bucket);
        var config = new Amazon.S3.AmazonS3Config
        {
            ServiceURL = options.ServiceUrl,
            AuthenticationRegion = options.Region,
            ForcePathStyle = true,
            RequestChecksumCalculation = Amazon.Runtime.RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = Amazon.Runtime.ResponseChecksumValidation.WHEN_REQUIRED,
        };
        using var client = new UnconditionalClient(new Amazon.Runtime.BasicAWSCredentials(options.AccessKeyId, options.SecretAccessKey), config);
        using var provider = new S3StorageProvider(client, options);

        var error = await Assert.ThrowsAsync<StorageException>(() => provider.PutIfAbsentAsync("lease/x", new byte[] { 1 }).AsTask());
        Assert.Contains("ignores If-None-Match", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<StorageException>(() => provider.OpenWriteAsync("backups/x/data").AsTask());
        Assert.Empty(await Provider.ListAsync("").ToListAsync()); // the probe was removed, nothing was written

        options.VerifyConditionalWrites = false;
        using var unchecked_ = new S3StorageProvider(client, options);
        Assert.True(await unchecked_.PutIfAbsentAsync("lease/y", new byte[] { 1 }));
        Assert.True(await unchecked_.PutIfAbsentAsync("lease/y", new byte[] { 2 })); // what the check protects against
    }

    private sealed class UnconditionalClient(Amazon.Runtime.AWSCredentials credentials, Amazon.S3.AmazonS3Config config) : Amazon.S3.AmazonS3Client(credentials, config)
    {
        public override Task<Amazon.S3.Model.PutObjectResponse> PutObjectAsync(Amazon.S3.Model.PutObjectRequest request, CancellationToken cancellationToken = default)
        {
            request.IfNoneMatch = null;
            return base.PutObjectAsync(request, cancellationToken);
        }
    }

    [Fact]
    public void InvalidOptions_ListEveryProblem()
    {
        var error = Assert.Throws<ArgumentException>(() => new S3StorageProvider(new S3StorageOptions { Bucket = "", PartSize = 1024, PartsInFlight = 0, AccessKeyId = "x" }));
        Assert.Contains("Bucket", error.Message, StringComparison.Ordinal);
        Assert.Contains("PartSize", error.Message, StringComparison.Ordinal);
        Assert.Contains("PartsInFlight", error.Message, StringComparison.Ordinal);
        Assert.Contains("SecretAccessKey", error.Message, StringComparison.Ordinal);
    }
}
