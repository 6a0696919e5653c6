using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.S3;

/// <summary>Turns the AWS SDK's errors into storage errors: not found, transient (5xx, throttling, timeouts, broken
/// connections) or not, each naming the operation, bucket and key and never a credential.</summary>
internal static class S3Errors
{
    /// <summary>A storage error naming the operation, bucket and key, transient or not; never a credential.</summary>
    internal static StorageException Map(Exception ex, string providerName, string bucket, string key, string operation)
    {
        var where = $"S3 {operation} of '{key}' in bucket '{bucket}'";
        if (ex is AmazonS3Exception s3)
        {
            if (s3.StatusCode == HttpStatusCode.NotFound && s3.ErrorCode is "NoSuchKey" or null or "" && operation == "read")
            {
                return new StorageObjectNotFoundException(providerName, key, ex);
            }

            var transient = (int)s3.StatusCode >= 500 || s3.StatusCode == HttpStatusCode.TooManyRequests || s3.ErrorCode is "SlowDown" or "RequestTimeout" or "InternalError";
            var why = s3.ErrorCode switch
            {
                "NoSuchBucket" => $"the bucket '{bucket}' does not exist",
                "AccessDenied" or "InvalidAccessKeyId" or "SignatureDoesNotMatch" => $"access denied ({s3.ErrorCode}); check the credentials and the bucket's policy",
                _ => $"{(int)s3.StatusCode} {s3.ErrorCode}: {s3.Message}",
            };
            return new StorageException($"{where} failed: {why}.", key, transient, ex);
        }

        if (ex is AmazonServiceException service)
        {
            return new StorageException($"{where} failed: {(int)service.StatusCode} {service.ErrorCode}.", key, (int)service.StatusCode >= 500, ex);
        }

        return new StorageException($"{where} failed: {ex.Message}", key, isTransient: true, ex);
    }
}
