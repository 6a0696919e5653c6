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
    /// Gets or sets how a source opens a companion object of the parent backup (such as the previous file index) as a
    /// stream, decrypted as it is read. Read it to its end: its size and checksums are verified there, and the end is
    /// reported only when they match. Set by the pipeline when <see cref="ParentId"/> is set; <see langword="null"/> otherwise.
    /// </summary>
    public Func<string, CancellationToken, ValueTask<Stream>>? OpenParentObjectAsync { get; set; }

    /// <summary>
    /// Gets or sets what <see cref="OpenObjectAsync"/> calls to open a streamed companion object. Set by the pipeline;
    /// set it yourself only to run a source outside it (in a test of the source).
    /// </summary>
    public Func<string, CancellationToken, ValueTask<Stream>>? ObjectStreamFactory { get; set; }

    private readonly SortedDictionary<string, ReadOnlyMemory<byte>> _objects = new(StringComparer.Ordinal);
    private readonly HashSet<string> _streamed = new(StringComparer.Ordinal);

    /// <summary>
    /// Attaches a small companion object (a globals dump) that is stored beside the data, compressed,
    /// encrypted and checksummed like it, and committed with it. It is held in memory until the data is stored; for an
    /// object that grows with the data (an index), use <see cref="OpenObjectAsync"/>.
    /// </summary>
    /// <param name="name">1 to 32 lower-case letters, digits and '-'; not <c>data</c> or <c>manifest</c>.</param>
    /// <param name="content">The object's bytes.</param>
    public void AttachObject(string name, ReadOnlyMemory<byte> content)
    {
        ValidateObjectName(name);
        if (_streamed.Contains(name))
        {
            throw new ArgumentException($"Object '{name}' is already being written as a stream.", nameof(name));
        }

        _objects[name] = content;
    }

    /// <summary>
    /// Opens a companion object that is written as a stream while the data is written, stored through the same
    /// pipeline (compressed, encrypted, checksummed) with bounded memory, and committed with the backup. Dispose the
    /// stream when the object is complete; the backup's manifest is written only after every object is stored, and a
    /// failed backup removes them all.
    /// </summary>
    /// <param name="name">1 to 32 lower-case letters, digits and '-'; not <c>data</c> or <c>manifest</c>; each name once.</param>
    /// <param name="cancellationToken">Cancels opening the object.</param>
    /// <returns>A write-only stream.</returns>
    /// <exception cref="InvalidOperationException">The source runs outside a pipeline that stores objects.</exception>
    public ValueTask<Stream> OpenObjectAsync(string name, CancellationToken cancellationToken = default)
    {
        ValidateObjectName(name);
        var factory = ObjectStreamFactory ?? throw new InvalidOperationException("This backup context cannot store streamed objects: no ObjectStreamFactory is set.");
        if (_objects.ContainsKey(name) || !_streamed.Add(name))
        {
            throw new ArgumentException($"Object '{name}' was already attached or opened.", nameof(name));
        }

        return factory(name, cancellationToken);
    }

    private static void ValidateObjectName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 32 || name is "data" or "manifest" || !char.IsAsciiLetterLower(name[0]) || name.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')))
        {
            throw new ArgumentException($"'{name}' is not a valid object name: use 1 to 32 lower-case letters, digits and '-', not 'data' or 'manifest'.", nameof(name));
        }
    }
}
