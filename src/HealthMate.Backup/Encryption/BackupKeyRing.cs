using System.Security.Cryptography;

namespace HealthMate.Backup.Encryption;

/// <summary>
/// The key-encryption keys a host holds, by key id. New backups use <see cref="ActiveKeyId"/>; older backups are
/// restored with the key id their header and manifest name, so keys can be rotated without losing old backups.
/// </summary>
/// <remarks>The ring copies the key material it is given and erases its copies when disposed.</remarks>
public sealed class BackupKeyRing : IDisposable
{
    /// <summary>The length of a key-encryption key in bytes (256 bits).</summary>
    public const int KeyLength = 32;

    private readonly Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>Initializes a new instance of the <see cref="BackupKeyRing"/> class.</summary>
    /// <param name="activeKeyId">The key id new backups use; it must be among <paramref name="keys"/>.</param>
    /// <param name="keys">Key ids and their 32-byte key material, which is copied.</param>
    /// <exception cref="ArgumentException">A key id is invalid or repeated, a key is not 32 bytes, or the active key is missing.</exception>
    public BackupKeyRing(string activeKeyId, IEnumerable<KeyValuePair<string, byte[]>> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var (id, material) in keys)
        {
            ValidateKeyId(id);
            ArgumentNullException.ThrowIfNull(material);
            if (material.Length != KeyLength)
            {
                throw new ArgumentException($"Key '{id}' has {material.Length} bytes; a key-encryption key has exactly {KeyLength}.", nameof(keys));
            }

            if (!_keys.TryAdd(id, (byte[])material.Clone()))
            {
                throw new ArgumentException($"Key id '{id}' appears more than once.", nameof(keys));
            }
        }

        ArgumentException.ThrowIfNullOrEmpty(activeKeyId);
        if (!_keys.ContainsKey(activeKeyId))
        {
            throw new ArgumentException($"The active key id '{activeKeyId}' is not among the configured keys.", nameof(activeKeyId));
        }

        ActiveKeyId = activeKeyId;
    }

    /// <summary>Gets the key id new backups are written with.</summary>
    public string ActiveKeyId { get; }

    /// <summary>Gets every key id the ring holds.</summary>
    public IReadOnlyCollection<string> KeyIds => _keys.Keys;

    /// <summary>Checks that a key id is 1 to 64 characters of <c>A-Z a-z 0-9 . _ -</c>.</summary>
    /// <param name="keyId">The key id.</param>
    /// <exception cref="ArgumentException">The key id is invalid.</exception>
    public static void ValidateKeyId(string keyId)
    {
        if (!IsValidKeyId(keyId))
        {
            throw new ArgumentException("A key id is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'.", nameof(keyId));
        }
    }

    /// <summary>Returns whether a key id is 1 to 64 characters of <c>A-Z a-z 0-9 . _ -</c>.</summary>
    /// <param name="keyId">The key id.</param>
    /// <returns><see langword="true"/> if it is valid.</returns>
    public static bool IsValidKeyId(string? keyId) =>
        !string.IsNullOrEmpty(keyId) && keyId.Length <= 64 && keyId.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>Returns whether the ring holds a key id.</summary>
    /// <param name="keyId">The key id.</param>
    /// <returns><see langword="true"/> if the ring holds it.</returns>
    public bool Contains(string keyId) => _keys.ContainsKey(keyId);

    /// <summary>Erases the ring's copies of the key material.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var key in _keys.Values)
        {
            CryptographicOperations.ZeroMemory(key);
        }

        _keys.Clear();
    }

    /// <summary>Gets the material of a key. Callers must not keep or log it.</summary>
    internal ReadOnlySpan<byte> GetKey(string keyId)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _keys.TryGetValue(keyId, out var key) ? key : throw new BackupKeyNotFoundException(keyId);
    }

    /// <inheritdoc/>
    public override string ToString() => $"BackupKeyRing(active '{ActiveKeyId}', {_keys.Count} key(s))";
}
