using System.Net;
using System.Runtime.CompilerServices;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.S3;

/// <summary>
/// The storage contract on S3 (or an S3-compatible store). A write is buffered up to one part: a small object is one
/// PUT, a larger one a multipart upload whose parts go up while the pipeline writes (at most
/// <see cref="S3StorageOptions.PartsInFlight"/> at a time, from pooled buffers), completed only by
/// <see cref="IStorageWriter.CommitAsync"/>; a writer disposed without commit aborts its upload, so no part is left
/// behind. Never overwriting is <c>If-None-Match: *</c> on a PUT; for a multipart upload on a store without conditional
/// completion (S3-compatible mode) it is a check just before completing, which two racing writers of one key could
/// both pass (the pipeline never races itself: backup ids are unique).
/// </summary>
public sealed partial class S3StorageProvider : IStorageProvider, IDisposable
{
    private readonly IAmazonS3 _client;
    private readonly bool _ownsClient;
    private readonly S3StorageOptions _options;
    private readonly TimeProvider _time;
    private readonly System.Collections.Concurrent.ConcurrentBag<byte[]> _partBuffers = [];
    private readonly SemaphoreSlim _conditionalCheck = new(1);
    private bool _conditionalChecked;

    /// <summary>Initializes a new instance of the <see cref="S3StorageProvider"/> class with its own client.</summary>
    /// <param name="options">The bucket, endpoint, credentials and upload settings; validated here.</param>
    /// <param name="time">The clock for commit times and upload ages; <see cref="TimeProvider.System"/> by default.</param>
    public S3StorageProvider(S3StorageOptions options, TimeProvider? time = null)
        : this(CreateClient(Validated(options)), options, ownsClient: true, time)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="S3StorageProvider"/> class over a client from the host
    /// (configured by the host, for example with AWSSDK.Extensions.NETCore.Setup).</summary>
    /// <param name="client">The client.</param>
    /// <param name="options">The bucket and upload settings; validated here.</param>
    /// <param name="time">The clock for commit times and upload ages; <see cref="TimeProvider.System"/> by default.</param>
    public S3StorageProvider(IAmazonS3 client, S3StorageOptions options, TimeProvider? time = null)
        : this(client ?? throw new ArgumentNullException(nameof(client)), Validated(options), ownsClient: false, time)
    {
    }

    private S3StorageProvider(IAmazonS3 client, S3StorageOptions options, bool ownsClient, TimeProvider? time)
    {
        _time = time ?? TimeProvider.System;
        _client = client;
        _options = options;
        _ownsClient = ownsClient;
    }

    /// <summary>A part buffer: reused from this provider's own small pool (at most one upload's worth is kept), so memory
    /// stays about <c>(PartsInFlight + 1) × PartSize</c> per upload and is not parked in the shared pool's per-core caches.</summary>
    private byte[] RentPart() => _partBuffers.TryTake(out var buffer) ? buffer : GC.AllocateUninitializedArray<byte>(_options.PartSize);

    private void ReturnPart(byte[] buffer)
    {
        if (_partBuffers.Count <= _options.PartsInFlight)
        {
            _partBuffers.Add(buffer);
        }
    }

    /// <inheritdoc />
    public string Name => $"s3:{_options.Bucket}";

    /// <summary>Creates a client for the options: region or endpoint, credentials (or the SDK's chain), retries, and
    /// the compatibility settings an S3-compatible store needs.</summary>
    /// <param name="options">The options.</param>
    /// <returns>A client the caller disposes.</returns>
    public static AmazonS3Client CreateClient(S3StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new AmazonS3Config { MaxErrorRetry = options.MaxRetries, Timeout = options.RequestTimeout };
        if (options.ServiceUrl is null)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }
        else
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region;
        }

        if (options.Compatibility == S3Compatibility.S3Compatible)
        {
            config.ForcePathStyle = true;
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
        }

        return options.AccessKeyId is null
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKeyId, options.SecretAccessKey), config);
    }

    /// <inheritdoc />
    public async ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        Validate(key);
        await EnsureConditionalWritesAsync(cancellationToken).ConfigureAwait(false);
        return new Writer(this, key, options ?? new StorageWriteOptions());
    }

    /// <summary>
    /// Once per provider: a probe object is written twice with <c>If-None-Match: *</c>; the store must refuse the
    /// second. If it accepts it, it ignores the condition, and writing is refused (see
    /// <see cref="S3StorageOptions.VerifyConditionalWrites"/>).
    /// </summary>
    private async Task EnsureConditionalWritesAsync(CancellationToken cancellationToken)
    {
        if (_conditionalChecked || !_options.VerifyConditionalWrites)
        {
            return;
        }

        await _conditionalCheck.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_conditionalChecked)
            {
                return;
            }

            var probe = $"healthmate-probe/conditional-{Guid.NewGuid():N}";
            await PutAsync(probe, "1"u8.ToArray(), ifAbsent: true, contentSha256: null, cancellationToken).ConfigureAwait(false);
            bool ignored;
            try
            {
                await PutAsync(probe, "2"u8.ToArray(), ifAbsent: true, contentSha256: null, cancellationToken).ConfigureAwait(false);
                ignored = true;
            }
            catch (StorageObjectExistsException)
            {
                ignored = false;
            }
            finally
            {
                await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = probe }, CancellationToken.None).ConfigureAwait(false);
            }

            if (ignored)
            {
                throw new StorageException($"The S3 store behind bucket '{_options.Bucket}' ignores If-None-Match: a backup could overwrite another and two hosts could both take a lease, so this provider does not write to it. Use a store that supports conditional writes (Amazon S3, Ceph RGW, recent MinIO).", probe, isTransient: false);
            }

            _conditionalChecked = true;
        }
        finally
        {
            _conditionalCheck.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<Stream> OpenReadAsync(string key, Storage.ByteRange? range = null, CancellationToken cancellationToken = default)
    {
        Validate(key);
        if (range is { Length: 0 })
        {
            _ = await StatAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new StorageObjectNotFoundException(Name, key, null);
            return new MemoryStream([], writable: false);
        }

        var request = new GetObjectRequest { BucketName = _options.Bucket, Key = key };
        if (range is { } r)
        {
            request.ByteRange = r.Length is { } length ? new Amazon.S3.Model.ByteRange(r.Offset, r.Offset + length - 1) : new Amazon.S3.Model.ByteRange($"bytes={r.Offset}-");
        }

        try
        {
            var response = await _client.GetObjectAsync(request, cancellationToken).ConfigureAwait(false);
            return new S3ResponseStream(response);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && range is { } past)
        {
            // A range that starts at or after the end reads nothing, as on a local file.
            _ = past;
            return new MemoryStream([], writable: false);
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw Map(ex, key, "read");
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var request = new ListObjectsV2Request { BucketName = _options.Bucket, Prefix = prefix.Length == 0 ? null : prefix, MaxKeys = 1000 };
        while (true)
        {
            ListObjectsV2Response response;
            try
            {
                response = await _client.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw Map(ex, prefix, "list");
            }

            // S3 lists in UTF-8 byte order, which is ordinal order for every key this library writes (ASCII).
            foreach (var item in response.S3Objects ?? [])
            {
                yield return new StorageObjectInfo(item.Key, item.Size ?? 0, ToOffset(item.LastModified));
            }

            if (response.IsTruncated != true || string.IsNullOrEmpty(response.NextContinuationToken))
            {
                yield break;
            }

            request.ContinuationToken = response.NextContinuationToken;
        }
    }

    /// <inheritdoc />
    public async ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default)
    {
        Validate(key);
        try
        {
            var response = await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _options.Bucket, Key = key }, cancellationToken).ConfigureAwait(false);
            return new StorageObjectInfo(key, response.ContentLength, ToOffset(response.LastModified));
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode is not "NoSuchBucket")
        {
            return null;
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw Map(ex, key, "stat");
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        Validate(key);
        if (await StatAsync(key, cancellationToken).ConfigureAwait(false) is null)
        {
            return false;
        }

        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = key }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw Map(ex, key, "delete");
        }
    }

    /// <summary>Deletes many objects with <c>DeleteObjects</c>, 1,000 keys a request (for pruning).</summary>
    /// <param name="keys">The keys; missing ones count as deleted, as S3 reports them.</param>
    /// <param name="cancellationToken">Cancels the deletion between requests.</param>
    /// <returns>How many keys S3 reported deleted.</returns>
    /// <exception cref="StorageException">A key could not be deleted (the first error is named).</exception>
    public async Task<int> DeleteManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var key in keys)
        {
            Validate(key);
        }

        var deleted = 0;
        foreach (var batch in keys.Chunk(1000))
        {
            DeleteObjectsResponse response;
            try
            {
                response = await _client.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = _options.Bucket, Objects = [.. batch.Select(k => new KeyVersion { Key = k })], Quiet = false }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw Map(ex, batch[0], "batch delete");
            }

            deleted += response.DeletedObjects?.Count ?? 0;
            if (response.DeleteErrors is { Count: > 0 } errors)
            {
                throw new StorageException($"S3 batch delete in bucket '{_options.Bucket}' failed for {errors.Count} key(s), first '{errors[0].Key}': {errors[0].Code}.", errors[0].Key, isTransient: false);
            }
        }

        return deleted;
    }

    /// <inheritdoc />
    public async ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        Validate(key);
        await EnsureConditionalWritesAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await PutAsync(key, content, ifAbsent: true, contentSha256: null, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (StorageObjectExistsException)
        {
            return false;
        }
    }

    /// <summary>
    /// Aborts multipart uploads started more than <paramref name="olderThan"/> ago and never completed: what a writer
    /// could not abort because the store was unreachable when it failed (a bucket lifecycle rule
    /// <c>AbortIncompleteMultipartUpload</c> does the same on the store's side).
    /// </summary>
    /// <param name="olderThan">How old an incomplete upload must be; a running backup's upload is younger.</param>
    /// <param name="cancellationToken">Cancels the clean-up.</param>
    /// <returns>How many uploads were aborted.</returns>
    public Task<int> AbortIncompleteUploadsAsync(TimeSpan olderThan, CancellationToken cancellationToken = default) =>
        AbortIncompleteUploadsAsync(string.Empty, _time.GetUtcNow() - olderThan, cancellationToken);

    /// <summary>Aborts the multipart uploads to keys under <paramref name="prefix"/> started before
    /// <paramref name="startedBefore"/> and never completed (retention calls it with its prefix and grace period).</summary>
    /// <param name="prefix">Only uploads to keys under this prefix.</param>
    /// <param name="startedBefore">Only uploads started before this time are aborted.</param>
    /// <param name="cancellationToken">Cancels the clean-up.</param>
    /// <returns>How many uploads were aborted.</returns>
    public async ValueTask<int> RemoveAbandonedWritesAsync(string prefix, DateTimeOffset startedBefore, CancellationToken cancellationToken = default) =>
        await AbortIncompleteUploadsAsync(prefix, startedBefore, cancellationToken).ConfigureAwait(false);

    private async Task<int> AbortIncompleteUploadsAsync(string prefix, DateTimeOffset startedBefore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var aborted = 0;
        var request = new ListMultipartUploadsRequest { BucketName = _options.Bucket, Prefix = prefix.Length == 0 ? null : prefix };
        var cutoff = startedBefore.UtcDateTime;
        while (true)
        {
            var response = await _client.ListMultipartUploadsAsync(request, cancellationToken).ConfigureAwait(false);
            foreach (var upload in response.MultipartUploads ?? [])
            {
                if (upload.Initiated is { } initiated && initiated.ToUniversalTime() <= cutoff)
                {
                    await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _options.Bucket, Key = upload.Key, UploadId = upload.UploadId }, cancellationToken).ConfigureAwait(false);
                    aborted++;
                }
            }

            if (response.IsTruncated != true)
            {
                return aborted;
            }

            request.KeyMarker = response.NextKeyMarker;
            request.UploadIdMarker = response.NextUploadIdMarker;
        }
    }

    /// <summary>Disposes the client when this provider created it.</summary>
    public void Dispose()
    {
        _conditionalCheck.Dispose();
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    private async Task PutAsync(string key, ReadOnlyMemory<byte> content, bool ifAbsent, string? contentSha256, CancellationToken cancellationToken)
    {
        var request = new PutObjectRequest
        {
            BucketName = _options.Bucket,
            Key = key,
            InputStream = new MemoryStream(content.ToArray(), writable: false),
            AutoCloseStream = true,
            IfNoneMatch = ifAbsent ? "*" : null,
        };
        Decorate(request.Metadata, contentSha256);
        request.StorageClass = _options.StorageClass is { } storageClass ? new S3StorageClass(storageClass) : null;
        (request.ServerSideEncryptionMethod, request.ServerSideEncryptionKeyManagementServiceKeyId) = Encryption();
        try
        {
            await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception ex) when (ifAbsent && ex.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict)
        {
            // The SDK resends a request whose connection broke (MaxStaleConnectionRetries, on top of MaxErrorRetry): when
            // the first one had landed, the resend gets 412 for this very write. The object holding exactly these bytes
            // settles it: our write committed.
            if (await HoldsAsync(key, content, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            throw new StorageObjectExistsException(Name, key, ex);
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw Map(ex, key, "write");
        }
    }

    /// <summary>Whether the object at <paramref name="key"/> holds exactly <paramref name="content"/> (read back, compared as it streams).</summary>
    private async Task<bool> HoldsAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _options.Bucket, Key = key }, cancellationToken).ConfigureAwait(false);
            if (response.ContentLength != content.Length)
            {
                return false;
            }

            var buffer = new byte[Math.Min(content.Length, 1024 * 1024) + 1];
            var offset = 0;
            int read;
            while ((read = await response.ResponseStream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (offset + read > content.Length || !buffer.AsSpan(0, read).SequenceEqual(content.Span.Slice(offset, read)))
                {
                    return false;
                }

                offset += read;
            }

            return offset == content.Length;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>S3's ETag of a completed multipart upload without KMS encryption: MD5 of the parts' binary MD5s, then "-" and the part count.</summary>
    internal static string MultipartETag(IEnumerable<string> partETags)
    {
        var digests = partETags.Select(e => Convert.FromHexString(e.Trim('"'))).ToList();
        return $"\"{Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(digests.SelectMany(d => d).ToArray()))}-{digests.Count}\"";
    }

    private (ServerSideEncryptionMethod? Method, string? KmsKeyId) Encryption() => _options.ServerSideEncryption switch
    {
        S3ServerSideEncryption.S3Managed => (ServerSideEncryptionMethod.AES256, null),
        S3ServerSideEncryption.Kms => (ServerSideEncryptionMethod.AWSKMS, _options.KmsKeyId),
        _ => (null, null),
    };

    private static void Decorate(MetadataCollection metadata, string? contentSha256)
    {
        if (contentSha256 is not null)
        {
            metadata.Add("sha256", contentSha256);
        }
    }

    /// <summary>A storage error naming the operation, bucket and key, transient or not; never a credential.</summary>
    private StorageException Map(Exception ex, string key, string operation) => S3Errors.Map(ex, Name, _options.Bucket, key, operation);

    private static DateTimeOffset ToOffset(DateTime? time) =>
        time is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t.ToUniversalTime(), DateTimeKind.Utc)) : DateTimeOffset.MinValue;

    private static void Validate(string key)
    {
        if (StorageKey.GetError(key) is { } error)
        {
            throw new ArgumentException($"'{key}' is not a valid storage key: {error}.", nameof(key));
        }
    }

    private static S3StorageOptions Validated(S3StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        return errors.Count == 0 ? options : throw new ArgumentException(string.Join(" ", errors), nameof(options));
    }
}
