namespace HealthMate.Backup.S3;

/// <summary>How a store implements S3: Amazon S3 itself, or a compatible store (Ceph RGW, MinIO, and others).</summary>
public enum S3Compatibility
{
    /// <summary>Amazon S3: the SDK's defaults (flexible checksums, virtual-hosted addressing).</summary>
    Aws,

    /// <summary>
    /// An S3-compatible store: path-style addressing, and checksums only where the API requires them (Ceph RGW 16
    /// rejects the SDK's default aws-chunked uploads with XAmzContentSHA256Mismatch). Integrity does not suffer: every
    /// stored object's SHA-256 is in its manifest and checked on every read. Nothing relies on the ETag of a completed
    /// multipart upload (RGW answers an empty one).
    /// </summary>
    S3Compatible,
}

/// <summary>Server-side encryption the store applies on top of the pipeline's own encryption.</summary>
public enum S3ServerSideEncryption
{
    /// <summary>None requested (the bucket's default applies).</summary>
    None,

    /// <summary>SSE-S3 (AES256, keys managed by the store).</summary>
    S3Managed,

    /// <summary>SSE-KMS with <see cref="S3StorageOptions.KmsKeyId"/>.</summary>
    Kms,
}

/// <summary>Where and how the S3 provider stores objects.</summary>
public sealed class S3StorageOptions
{
    /// <summary>The smallest part S3 accepts (except the last).</summary>
    public const int MinPartSize = 5 * 1024 * 1024;

    /// <summary>Gets or sets the bucket. Required.</summary>
    public string Bucket { get; set; } = string.Empty;

    /// <summary>Gets or sets the endpoint of an S3-compatible store (<c>http://127.0.0.1:7480</c>); null for Amazon S3.</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>Gets or sets the region. Defaults to <c>us-east-1</c>.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Gets or sets how the store implements S3. Defaults to <see cref="S3Compatibility.Aws"/>; use
    /// <see cref="S3Compatibility.S3Compatible"/> for Ceph RGW, MinIO and similar stores.</summary>
    public S3Compatibility Compatibility { get; set; } = S3Compatibility.Aws;

    /// <summary>Gets or sets the access key id; with <see cref="SecretAccessKey"/>, overrides the SDK's credential chain.</summary>
    public string? AccessKeyId { get; set; }

    /// <summary>Gets or sets the secret access key. A secret: never logged, never in a message.</summary>
    public string? SecretAccessKey { get; set; }

    /// <summary>Gets or sets the size of a multipart upload's parts: 5 MiB to 5 GiB. Defaults to 16 MiB.</summary>
    public int PartSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>Gets or sets how many parts upload at once (1 to 64). Memory per upload is about this times
    /// <see cref="PartSize"/>. Defaults to 4.</summary>
    public int PartsInFlight { get; set; } = 4;

    /// <summary>Gets or sets the storage class (<c>STANDARD_IA</c>, <c>GLACIER_IR</c>, ...); null for the bucket's default.</summary>
    public string? StorageClass { get; set; }

    /// <summary>Gets or sets server-side encryption. Defaults to <see cref="S3ServerSideEncryption.None"/>.</summary>
    public S3ServerSideEncryption ServerSideEncryption { get; set; } = S3ServerSideEncryption.None;

    /// <summary>Gets or sets the KMS key for <see cref="S3ServerSideEncryption.Kms"/>.</summary>
    public string? KmsKeyId { get; set; }

    /// <summary>
    /// Gets or sets whether the provider checks, once, before its first write, that the store honours
    /// <c>If-None-Match: *</c> (a second conditional PUT of a probe object must be refused). A store that ignores it
    /// would let a backup overwrite another and two hosts both take a lease, so the provider then refuses to write,
    /// naming the problem. Defaults to true.
    /// </summary>
    public bool VerifyConditionalWrites { get; set; } = true;

    /// <summary>Gets or sets how many times the SDK retries a request (a part, a read) on throttling, 5xx or a timeout,
    /// with backoff. Defaults to 5.</summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>Gets or sets the timeout of one request. Defaults to 5 minutes.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Lists what is wrong with these options.</summary>
    /// <returns>One message per problem; empty when valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Bucket) || Bucket.Length is < 3 or > 63)
        {
            errors.Add("S3 Bucket is required (3 to 63 characters).");
        }

        if (ServiceUrl is not null && !Uri.TryCreate(ServiceUrl, UriKind.Absolute, out _))
        {
            errors.Add($"S3 ServiceUrl '{ServiceUrl}' is not an absolute URL.");
        }

        if (string.IsNullOrWhiteSpace(Region))
        {
            errors.Add("S3 Region is required.");
        }

        if ((AccessKeyId is null) != (SecretAccessKey is null))
        {
            errors.Add("S3 AccessKeyId and SecretAccessKey are set together, or neither (the SDK's credential chain).");
        }

        if (PartSize < MinPartSize)
        {
            errors.Add($"S3 PartSize {PartSize} is under the minimum of {MinPartSize} bytes.");
        }

        if (PartsInFlight is < 1 or > 64)
        {
            errors.Add($"S3 PartsInFlight {PartsInFlight} is outside 1..64.");
        }

        if (ServerSideEncryption == S3ServerSideEncryption.Kms && string.IsNullOrWhiteSpace(KmsKeyId))
        {
            errors.Add("S3 ServerSideEncryption Kms needs KmsKeyId.");
        }

        if (MaxRetries is < 0 or > 20)
        {
            errors.Add($"S3 MaxRetries {MaxRetries} is outside 0..20.");
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            errors.Add("S3 RequestTimeout must be positive.");
        }

        return errors;
    }
}
