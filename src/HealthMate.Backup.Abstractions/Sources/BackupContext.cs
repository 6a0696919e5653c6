namespace HealthMate.Backup;

/// <summary>Describes the backup a source is writing.</summary>
public sealed class BackupContext
{
    /// <summary>Initializes a new instance of the <see cref="BackupContext"/> class.</summary>
    /// <param name="backupId">The identifier of the backup being written.</param>
    /// <param name="type">The backup type.</param>
    /// <param name="parentId">The backup this one builds on, or <see langword="null"/> for a full backup.</param>
    public BackupContext(string backupId, BackupType type, string? parentId)
    {
        ArgumentException.ThrowIfNullOrEmpty(backupId);
        BackupId = backupId;
        Type = type;
        ParentId = parentId;
    }

    /// <summary>Gets the identifier of the backup being written.</summary>
    public string BackupId { get; }

    /// <summary>Gets the backup type.</summary>
    public BackupType Type { get; }

    /// <summary>Gets the identifier of the backup this one builds on, if any.</summary>
    public string? ParentId { get; }

    /// <summary>
    /// Gets properties the source records about what it wrote (a server version, a file count).
    /// They are stored in the manifest, which is not encrypted: never put a secret here.
    /// </summary>
    public IDictionary<string, string> Properties { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets the companion objects attached so far, by name.</summary>
    public IReadOnlyDictionary<string, ReadOnlyMemory<byte>> Objects => _objects;

    /// <summary>
    /// Gets or sets how a source reads a companion object of the parent backup (such as the previous file index),
    /// decrypted and verified. Set by the pipeline when <see cref="ParentId"/> is set; <see langword="null"/> otherwise.
    /// </summary>
    public Func<string, CancellationToken, ValueTask<byte[]>>? ReadParentObjectAsync { get; set; }

    private readonly SortedDictionary<string, ReadOnlyMemory<byte>> _objects = new(StringComparer.Ordinal);

    /// <summary>
    /// Attaches a small companion object (an index, a globals dump) that is stored beside the data, compressed,
    /// encrypted and checksummed like it, and committed with it. It is held in memory until the data is stored.
    /// </summary>
    /// <param name="name">1 to 32 lower-case letters, digits and '-'; not <c>data</c> or <c>manifest</c>.</param>
    /// <param name="content">The object's bytes.</param>
    public void AttachObject(string name, ReadOnlyMemory<byte> content)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 32 || name is "data" or "manifest" || !char.IsAsciiLetterLower(name[0]) || name.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')))
        {
            throw new ArgumentException($"'{name}' is not a valid object name: use 1 to 32 lower-case letters, digits and '-', not 'data' or 'manifest'.", nameof(name));
        }

        _objects[name] = content;
    }
}
