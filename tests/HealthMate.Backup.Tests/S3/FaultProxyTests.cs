using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using HealthMate.Backup.S3;
using HealthMate.Backup.Tests.Support;
using Xunit.Abstractions;

namespace HealthMate.Backup.Tests.S3;

/// <summary>The fault proxy itself, between the SDK and a real RGW: it passes everything through untouched, and each
/// fault does what it says (the server acted or not, the client heard or not).</summary>
[Collection(RgwCollection.Name)]
public sealed class FaultProxyTests(RgwFixture rgw, ITestOutputHelper output) : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private string _bucket = null!;
    private FaultProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _bucket = await rgw.CreateBucketAsync();
        _proxy = await FaultProxy.StartAsync(new Uri(rgw.Endpoint));
    }

    public async Task DisposeAsync()
    {
        output.WriteLine($"{_proxy.ConnectionsAccepted} connection(s); requests:");
        foreach (var entry in _proxy.Log)
        {
            output.WriteLine($"  {entry}");
        }

        await _proxy.DisposeAsync();
    }

    [Fact]
    public async Task NoRules_EveryOperationRoundTrips_OverKeptAliveConnections()
    {
        var seen = new ConcurrentQueue<ProxyRequest>(); // a rule that never fires, only to see what the SDK sends
        _proxy.AddRule(new FaultRule { Match = r => { seen.Enqueue(r); return false; }, Kind = FaultKind.Delay, Delay = TimeSpan.Zero });
        using var client = ThroughProxy();
        var small = RandomNumberGenerator.GetBytes(100_000);
        var big = RandomNumberGenerator.GetBytes(15 * MiB);

        await client.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = "plain/small", InputStream = new MemoryStream(small) });
        var upload = await client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _bucket, Key = "plain/big" });
        var parts = new List<PartETag>();
        for (var part = 1; part <= 3; part++)
        {
            parts.Add(await UploadPartAsync(client, "plain/big", upload.UploadId, part, big, 5 * MiB));
        }

        await client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = _bucket, Key = "plain/big", UploadId = upload.UploadId, PartETags = parts });

        Assert.Equal(small, await ReadAsync(client, "plain/small"));
        Assert.Equal(big, await ReadAsync(client, "plain/big"));
        Assert.Equal(["plain/big", "plain/small"], await ListAsync(client, "plain/"));
        await client.DeleteObjectAsync(_bucket, "plain/small");
        Assert.Equal(["plain/big"], await ListAsync(client, "plain/"));

        var log = _proxy.Log;
        Assert.Equal(11, log.Count);
        Assert.All(log, e => Assert.True(e is { Fault: null, Error: null, UpstreamStatus: >= 200 and < 300 }, e.ToString()));
        Assert.Equal(0, _proxy.TotalInjected);
        Assert.Equal(1, _proxy.ConnectionsAccepted); // one kept-alive connection carried all eleven requests
        foreach (var put in seen.Where(r => r.Method == "PUT"))
        {
            output.WriteLine($"{put.Method} {put.Path}?{put.Query}: " + string.Join("; ", new[] { "Expect", "Content-Length", "Transfer-Encoding", "x-amz-content-sha256", "x-amz-decoded-content-length" }
                .Select(h => $"{h}={put.Headers.GetValueOrDefault(h, "-")}")));
        }
    }

    /// <summary>The SDK resends a request whose connection was reset (up to MaxStaleConnectionRetries times, 3 by
    /// default, outside MaxErrorRetry), so a lost response to a conditional PUT comes back as 412 unless those resends
    /// are off too.</summary>
    [Theory]
    [InlineData(0, 0)]
    [InlineData(0, null)]
    [InlineData(2, null)]
    public async Task DropResponse_OnAConditionalPut_TheClientHearsNoSuccess_ButRgwStoredTheBytes(int retries, int? staleConnectionRetries)
    {
        _proxy.AddRule(new FaultRule { Match = r => r.Method == "PUT" && r.Path.EndsWith("/dropped/put", StringComparison.Ordinal), Kind = FaultKind.DropResponse });
        using var client = ThroughProxy(retries, staleConnectionRetries);
        var bytes = RandomNumberGenerator.GetBytes(3 * MiB);

        var error = await Record.ExceptionAsync(() => client.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = "dropped/put", InputStream = new MemoryStream(bytes), IfNoneMatch = "*" }));

        output.WriteLine(Describe(error));
        Assert.NotNull(error); // never acknowledged: the response was lost, or the resend found the object already there
        if (staleConnectionRetries == 0)
        {
            Assert.IsNotType<AmazonS3Exception>(error); // the reset itself, nothing from the server
            Assert.Single(_proxy.Log);
        }
        else
        {
            var precondition = Assert.IsType<AmazonS3Exception>(error);
            Assert.Equal(HttpStatusCode.PreconditionFailed, precondition.StatusCode);
            Assert.Equal([200, 412], _proxy.Log.Select(e => e.UpstreamStatus));
        }

        Assert.Equal(bytes, await rgw.DownloadAsync(_bucket, "dropped/put"));
        Assert.Equal(1, _proxy.Injected(FaultKind.DropResponse));
        Assert.Contains(_proxy.Log, e => e is { Method: "PUT", Fault: FaultKind.DropResponse, UpstreamStatus: 200 });
    }

    [Fact]
    public async Task ErrorStatus_SlowDownOnce_IsRetriedBySdk_OrSurfacesAs503WithoutRetries()
    {
        FaultRule SlowDown() => new() { Match = r => r.Method == "PUT", Kind = FaultKind.ErrorStatus, Status = 503, ErrorCode = "SlowDown" };
        var bytes = RandomNumberGenerator.GetBytes(MiB);

        _proxy.AddRule(SlowDown());
        using (var retrying = ThroughProxy(retries: 2))
        {
            await retrying.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = "slow/retried", InputStream = new MemoryStream(bytes) });
        }

        Assert.Equal(bytes, await rgw.DownloadAsync(_bucket, "slow/retried"));
        Assert.Equal(
            [(FaultKind?)FaultKind.ErrorStatus, null],
            _proxy.Log.Where(e => e.Path.EndsWith("/slow/retried", StringComparison.Ordinal)).Select(e => e.Fault));

        _proxy.AddRule(SlowDown());
        using var once = ThroughProxy(retries: 0);
        var error = await Assert.ThrowsAsync<AmazonS3Exception>(() => once.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = "slow/refused", InputStream = new MemoryStream(bytes) }));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
        Assert.Equal("SlowDown", error.ErrorCode);
        Assert.Equal(2, _proxy.Injected(FaultKind.ErrorStatus));
        using var direct = S3StorageProvider.CreateClient(rgw.Options(_bucket));
        Assert.Empty(await ListAsync(direct, "slow/refused")); // never forwarded

        // A request with a body and no Expect: 100-continue (a batch delete): the body is read and discarded first.
        _proxy.AddRule(new FaultRule { Match = r => r.Method == "POST" && r.HasQueryParameter("delete"), Kind = FaultKind.ErrorStatus, Status = 500 });
        using var batch = ThroughProxy(retries: 2);
        var deleted = await batch.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = _bucket, Objects = [new KeyVersion { Key = "slow/retried" }] });
        Assert.Single(deleted.DeletedObjects);
        Assert.Equal([(FaultKind?)FaultKind.ErrorStatus, null], _proxy.Log.Where(e => e.Method == "POST").Select(e => e.Fault));
        Assert.Empty(await ListAsync(direct, "slow/"));
    }

    [Fact]
    public async Task Delay_HoldsTheRequest_ThenForwardsIt()
    {
        using var client = ThroughProxy();
        await client.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = "late/object", InputStream = new MemoryStream([1, 2, 3]) });
        _proxy.AddRule(new FaultRule { Match = r => r.Method == "GET", Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(500) });

        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal([1, 2, 3], await ReadAsync(client, "late/object"));

        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(500), clock.Elapsed.ToString());
        Assert.Equal(1, _proxy.Injected(FaultKind.Delay));
        Assert.Equal(1, _proxy.TotalInjected);
        Assert.Contains(_proxy.Log, e => e is { Method: "GET", Fault: FaultKind.Delay, UpstreamStatus: 200 });
    }

    [Fact]
    public async Task ResetMidBody_OnUploadPart_FailsOrIsRetried_AndTheUploadCompletesWithTheRightBytes()
    {
        FaultRule ResetPart() => new() { Match = r => r.Method == "PUT" && r.HasQueryParameter("partNumber"), Kind = FaultKind.ResetMidBody, AfterBodyBytes = MiB };
        var content = RandomNumberGenerator.GetBytes(7 * MiB + 12_345); // a 5 MiB part and a last one of 2 MiB and a bit
        using var once = ThroughProxy(retries: 0, staleConnectionRetries: 0);
        var upload = await once.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _bucket, Key = "reset/object" });

        _proxy.AddRule(ResetPart());
        var error = await Record.ExceptionAsync(() => UploadPartAsync(once, "reset/object", upload.UploadId, 1, content, 5 * MiB));
        output.WriteLine(Describe(error));
        Assert.NotNull(error);
        var first = await UploadPartAsync(once, "reset/object", upload.UploadId, 1, content, 5 * MiB); // retried by hand

        _proxy.AddRule(ResetPart());
        using var retrying = ThroughProxy(retries: 2);
        var second = await UploadPartAsync(retrying, "reset/object", upload.UploadId, 2, content, 5 * MiB); // retried by the SDK

        await once.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = _bucket, Key = "reset/object", UploadId = upload.UploadId, PartETags = [first, second] });
        Assert.Equal(2, _proxy.Injected(FaultKind.ResetMidBody));
        Assert.Equal(2, _proxy.Log.Count(e => e.Fault == FaultKind.ResetMidBody));
        Assert.Equal(content, await rgw.DownloadAsync(_bucket, "reset/object"));
        Assert.Equal(0, await rgw.OpenUploadsAsync(_bucket));
    }

    [Fact]
    public async Task DropResponse_OnCompleteMultipartUpload_RgwCompletedTheObject()
    {
        var content = RandomNumberGenerator.GetBytes(7 * MiB + 99);
        using var client = ThroughProxy(retries: 0, staleConnectionRetries: 0);
        var upload = await client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _bucket, Key = "complete/dropped" });
        List<PartETag> parts =
        [
            await UploadPartAsync(client, "complete/dropped", upload.UploadId, 1, content, 5 * MiB),
            await UploadPartAsync(client, "complete/dropped", upload.UploadId, 2, content, 5 * MiB),
        ];
        _proxy.AddRule(new FaultRule { Match = r => r.Method == "POST" && r.HasQueryParameter("uploadId"), Kind = FaultKind.DropResponse });
        var complete = new CompleteMultipartUploadRequest { BucketName = _bucket, Key = "complete/dropped", UploadId = upload.UploadId, PartETags = parts };

        var error = await Record.ExceptionAsync(() => client.CompleteMultipartUploadAsync(complete));

        output.WriteLine(Describe(error));
        Assert.NotNull(error);
        Assert.Contains(_proxy.Log, e => e is { Method: "POST", Fault: FaultKind.DropResponse, UpstreamStatus: 200 });
        Assert.Equal(content, await rgw.DownloadAsync(_bucket, "complete/dropped"));
        Assert.Equal(0, await rgw.OpenUploadsAsync(_bucket));

        // What a caller that retries the completion hears, now that RGW has finished the upload.
        var again = await Record.ExceptionAsync(() => client.CompleteMultipartUploadAsync(complete));
        output.WriteLine($"completing again: {Describe(again)}");
        Assert.Equal(content, await rgw.DownloadAsync(_bucket, "complete/dropped"));
    }

    /// <summary>A client through the proxy: the fixture's options with the proxy as endpoint; the SDK's own resends
    /// after a connection reset are left at its default unless <paramref name="staleConnectionRetries"/> is given.</summary>
    private AmazonS3Client ThroughProxy(int retries = 2, int? staleConnectionRetries = null)
    {
        var options = rgw.Options(_bucket);
        options.ServiceUrl = _proxy.Endpoint.ToString();
        options.MaxRetries = retries;
        options.RequestTimeout = TimeSpan.FromSeconds(30);
        var client = S3StorageProvider.CreateClient(options);
        if (staleConnectionRetries is { } stale)
        {
            ((AmazonS3Config)client.Config).MaxStaleConnectionRetries = stale;
        }

        return client;
    }

    private static string Describe(Exception? error) => error switch
    {
        null => "succeeded",
        AmazonS3Exception s3 => $"{nameof(AmazonS3Exception)} {(int)s3.StatusCode} {s3.ErrorCode}",
        _ => $"{error.GetType().FullName}: {error.Message} <- {error.InnerException?.GetType().FullName}: {error.InnerException?.Message}",
    };

    private async Task<PartETag> UploadPartAsync(IAmazonS3 client, string key, string uploadId, int part, byte[] content, int partSize)
    {
        var offset = (part - 1) * partSize;
        var length = Math.Min(partSize, content.Length - offset);
        var response = await client.UploadPartAsync(new UploadPartRequest
        {
            BucketName = _bucket,
            Key = key,
            UploadId = uploadId,
            PartNumber = part,
            InputStream = new MemoryStream(content, offset, length),
            PartSize = length,
        });
        return new PartETag(part, response.ETag);
    }

    private async Task<byte[]> ReadAsync(IAmazonS3 client, string key)
    {
        using var response = await client.GetObjectAsync(_bucket, key);
        using var buffer = new MemoryStream();
        await response.ResponseStream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private async Task<List<string>> ListAsync(IAmazonS3 client, string prefix)
    {
        var listed = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix });
        return (listed.S3Objects ?? []).Select(o => o.Key).ToList();
    }
}
