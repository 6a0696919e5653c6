namespace HealthMate.Backup;

/// <summary>A manifest's HMAC does not match: the manifest was edited, forged, or moved to another backup.</summary>
public sealed class ManifestAuthenticationException : BackupIntegrityException
{
    /// <summary>Initializes a new instance of the <see cref="ManifestAuthenticationException"/> class.</summary>
    /// <param name="manifestKey">The storage key of the manifest.</param>
    /// <param name="reason">Why it was rejected.</param>
    public ManifestAuthenticationException(string manifestKey, string reason)
        : base($"Manifest '{manifestKey}' was rejected: {reason}. It may have been edited or forged; do not trust this backup.")
    {
        ManifestKey = manifestKey;
    }

    /// <summary>Gets the storage key of the rejected manifest.</summary>
    public string ManifestKey { get; }
}
