using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.S3;

/// <summary>The S3 provider's writer: buffering, parts in flight, commit and abort.</summary>
public sealed partial class S3StorageProvider
{
    /// <summary>One object being written: one PUT if it fits a part, else a multipart upload with parts in flight.</summary>
    private sealed class Writer(S3StorageProvider provider, string key, StorageWriteOptions options) : IStorageWriter
    {
        private readonly S3StorageOptions _settings = provider._options;
        private readonly List<PartETag> _parts = [];
        private readonly List<Task> _uploads = [];
        private readonly Lock _gate = new();
        private SemaphoreSlim? _slots;
        private byte[]? _buffer;
        private int _filled;
        private int _partNumber;
        private long _size;
        private string? _uploadId;
        private Exception? _failure;
        private bool _committed;
        private bool _disposed;

        public string Key => key;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ThrowIfFailed();
            while (!data.IsEmpty)
            {
                _buffer ??= provider.RentPart();
                var take = Math.Min(_settings.PartSize - _filled, data.Length);
                data.Span[..take].CopyTo(_buffer.AsSpan(_filled));
                _filled += take;
                _size += take;
                data = data[take..];
                if (_filled == _settings.PartSize)
                {
                    await SendPartAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        public async ValueTask<StorageObjectInfo> CommitAsync(CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ThrowIfFailed();
            if (_uploadId is null)
            {
                await provider.PutAsync(key, _buffer is null ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(0, _filled), ifAbsent: !options.Overwrite, options.ContentSha256, cancellationToken).ConfigureAwait(false);
                _committed = true;
                return new StorageObjectInfo(key, _size, provider._time.GetUtcNow());
            }

            if (_filled > 0)
            {
                await SendPartAsync(cancellationToken).ConfigureAwait(false);
            }

            await Task.WhenAll(SnapshotUploads()).ConfigureAwait(false);
            ThrowIfFailed();
            var conditional = _settings.Compatibility == S3Compatibility.Aws;
            if (!options.Overwrite && !conditional && await provider.StatAsync(key, cancellationToken).ConfigureAwait(false) is not null)
            {
                throw new StorageObjectExistsException(provider.Name, key, null);
            }

            var request = new CompleteMultipartUploadRequest
            {
                BucketName = _settings.Bucket,
                Key = key,
                UploadId = _uploadId,
                PartETags = [.. _parts.OrderBy(p => p.PartNumber)],
                IfNoneMatch = !options.Overwrite && conditional ? "*" : null,
            };
            try
            {
                await provider._client.CompleteMultipartUploadAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (AmazonS3Exception ex) when (request.IfNoneMatch is not null && ex.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict)
            {
                // A resent complete whose first attempt landed gets 412 for this very upload: the object's ETag tells.
                if (!await CompletedByUsAsync(request.PartETags, cancellationToken).ConfigureAwait(false))
                {
                    throw new StorageObjectExistsException(provider.Name, key, ex);
                }
            }
            catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw provider.Map(ex, key, "complete");
            }

            _committed = true;
            return new StorageObjectInfo(key, _size, provider._time.GetUtcNow());
        }

        public async ValueTask DisposeAsync()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                await Task.WhenAll(SnapshotUploads()).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Boundary: a failed part was reported to the writer already; the upload is aborted below either way.
            }

            if (!_committed && _uploadId is not null)
            {
                try
                {
                    await provider._client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _settings.Bucket, Key = key, UploadId = _uploadId }, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Boundary: the bucket's lifecycle rule for incomplete uploads is the backstop (docs/s3.md).
                }
            }

            if (_buffer is not null)
            {
                provider.ReturnPart(_buffer);
                _buffer = null;
            }

            _slots?.Dispose();
        }

        /// <summary>Whether the object now at the key is this upload's (its multipart ETag); false when that cannot be told (KMS).</summary>
        private async Task<bool> CompletedByUsAsync(List<PartETag> parts, CancellationToken cancellationToken)
        {
            if (_settings.ServerSideEncryption == S3ServerSideEncryption.Kms)
            {
                return false;
            }

            try
            {
                var head = await provider._client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _settings.Bucket, Key = key }, cancellationToken).ConfigureAwait(false);
                return head.ContentLength == _size && string.Equals(head.ETag, MultipartETag(parts.Select(p => p.ETag)), StringComparison.OrdinalIgnoreCase);
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }
        }

        private async Task SendPartAsync(CancellationToken cancellationToken)
        {
            if (_uploadId is null)
            {
                var initiate = new InitiateMultipartUploadRequest { BucketName = _settings.Bucket, Key = key };
                Decorate(initiate.Metadata, options.ContentSha256);
                initiate.StorageClass = _settings.StorageClass is { } storageClass ? new S3StorageClass(storageClass) : null;
                (initiate.ServerSideEncryptionMethod, initiate.ServerSideEncryptionKeyManagementServiceKeyId) = provider.Encryption();
                try
                {
                    _uploadId = (await provider._client.InitiateMultipartUploadAsync(initiate, cancellationToken).ConfigureAwait(false)).UploadId;
                }
                catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    throw provider.Map(ex, key, "write");
                }

                _slots = new SemaphoreSlim(_settings.PartsInFlight);
            }

            await _slots!.WaitAsync(cancellationToken).ConfigureAwait(false);
            ThrowIfFailed();
            var buffer = _buffer!;
            var length = _filled;
            var number = ++_partNumber;
            _buffer = null;
            _filled = 0;
            var upload = UploadPartAsync(buffer, length, number);
            lock (_gate)
            {
                _uploads.Add(upload);
            }
        }

        private async Task UploadPartAsync(byte[] buffer, int length, int number)
        {
            try
            {
                var request = new UploadPartRequest
                {
                    BucketName = _settings.Bucket,
                    Key = key,
                    UploadId = _uploadId,
                    PartNumber = number,
                    InputStream = new MemoryStream(buffer, 0, length, writable: false),
                    PartSize = length,
                };
                var response = await provider._client.UploadPartAsync(request, CancellationToken.None).ConfigureAwait(false);
                lock (_gate)
                {
                    _parts.Add(new PartETag(number, response.ETag));
                }
            }
            catch (Exception ex)
            {
                // Boundary: the part's failure is reported by the writer's next call; the upload is aborted on dispose.
                _failure ??= ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException ? provider.Map(ex, key, $"upload of part {number}") : ex;
            }
            finally
            {
                provider.ReturnPart(buffer);
                _slots!.Release();
            }
        }

        private Task[] SnapshotUploads()
        {
            lock (_gate)
            {
                return [.. _uploads];
            }
        }

        private void ThrowIfFailed()
        {
            if (_failure is { } failure)
            {
                throw failure is StorageException ? failure : new StorageException($"An S3 part upload of '{key}' failed: {failure.Message}", key, isTransient: false, failure);
            }
        }
    }
}
