using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using HealthMate.Backup.Pipeline;

namespace HealthMate.Backup.PostgreSql;

/// <summary>What a <see cref="WalArchive.PushAsync"/> did.</summary>
public enum WalPushOutcome
{
    /// <summary>The file was stored.</summary>
    Stored,

    /// <summary>The same file, with identical content, was already archived: nothing was written.</summary>
    AlreadyArchived,
}

/// <summary>Where a WAL file came from and what a push did with it.</summary>
/// <param name="FileName">The WAL file's name.</param>
/// <param name="SystemIdentifier">The cluster's system identifier.</param>
/// <param name="Timeline">The timeline, as 8 hex digits.</param>
/// <param name="Outcome">Stored, or already archived with the same content.</param>
/// <param name="Bytes">The file's size.</param>
public sealed record WalPushResult(string FileName, string SystemIdentifier, string Timeline, WalPushOutcome Outcome, long Bytes);

/// <summary>How a <see cref="WalArchive"/> finds the cluster a WAL file belongs to.</summary>
public sealed class WalArchiveOptions
{
    /// <summary>
    /// Gets or sets the cluster's system identifier (decimal). When null it is read from the segment's own header, or
    /// for files without one (<c>.history</c>, <c>.backup</c>) from <c>global/pg_control</c> in <see cref="DataDirectory"/>.
    /// </summary>
    public string? SystemIdentifier { get; set; }

    /// <summary>Gets or sets the cluster's data directory. Defaults to the current directory, which is where PostgreSQL
    /// runs <c>archive_command</c> and <c>restore_command</c>.</summary>
    public string DataDirectory { get; set; } = ".";
}

/// <summary>
/// The WAL archive: <c>wal-push</c> and <c>wal-fetch</c> as a library, used by the <c>healthmate-backup</c> tool as
/// <c>archive_command</c> and <c>restore_command</c>. Segments, <c>.partial</c>, <c>.backup</c> and <c>.history</c>
/// files go through the backup pipeline (compressed, encrypted, checksummed) to <c>wal/{system-id}/{timeline}/{name}</c>.
/// Pushing a file that is already archived with identical content (its data present, stored size and SHA-256 equal)
/// succeeds; different content under the same name is an error, and an archived file is never overwritten. A push is
/// acknowledged only once its manifest is written, so a killed push leaves nothing that a fetch would return; each push
/// writes its data under a key of its own, so two pushers of one name (a primary and a standby with
/// <c>archive_mode = always</c>, or a stale archiver) never delete each other's data.
/// </summary>
public sealed partial class WalArchive
{
    internal const string Kind = "wal";
    private const ushort PageMagicMin = 0xD000; // XLOG_PAGE_MAGIC values of PostgreSQL 9.x to 17 are 0xD0xx
    private const ushort LongHeaderFlag = 0x0002;

    private readonly KeyedObjectStore _store;

    internal WalArchive(KeyedObjectStore store) => _store = store;

    /// <summary>Archives one WAL file.</summary>
    /// <param name="walFilePath">The file (PostgreSQL's <c>%p</c>); its name must be a WAL, history, backup or partial file name.</param>
    /// <param name="options">How to find the cluster; defaults read it from the file or the current directory.</param>
    /// <param name="cancellationToken">Cancels the push; nothing is then acknowledged.</param>
    /// <returns>What was done.</returns>
    /// <exception cref="WalConflictException">A file of that name with different content is already archived.</exception>
    public async Task<WalPushResult> PushAsync(string walFilePath, WalArchiveOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(walFilePath);
        options ??= new WalArchiveOptions();
        var name = Path.GetFileName(walFilePath);
        var timeline = TimelineOf(name) ?? throw new ArgumentException($"'{name}' is not a WAL segment, .partial, .backup or .history file name.", nameof(walFilePath));
        var systemId = options.SystemIdentifier ?? ReadSystemIdentifier(walFilePath, options.DataDirectory);
        ValidateSystemIdentifier(systemId);
        var key = KeyOf(systemId, timeline, name);

        var properties = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["postgres.system-identifier"] = systemId,
            ["postgres.timeline"] = timeline,
        };
        KeyedPutResult result;
        try
        {
            result = await _store.PutAsync(
                key,
                Kind,
                name,
                properties,
                async (destination, token) =>
                {
                    var file = new FileStream(walFilePath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
                    await using (file.ConfigureAwait(false))
                    {
                        await file.CopyToAsync(destination, 1024 * 1024, token).ConfigureAwait(false);
                    }
                },
                token => HashFileAsync(walFilePath, token),
                cancellationToken).ConfigureAwait(false);
        }
        catch (KeyedObjectConflictException)
        {
            throw new WalConflictException(name, systemId, timeline);
        }

        return new WalPushResult(name, systemId, timeline, result.Outcome == KeyedPutOutcome.Stored ? WalPushOutcome.Stored : WalPushOutcome.AlreadyArchived, result.Manifest.Data.PlaintextSize);
    }

    /// <summary>Restores one archived WAL file to a path (PostgreSQL's <c>%p</c>), verified, written to a temporary
    /// file first and renamed into place, so PostgreSQL never sees a partial file.</summary>
    /// <param name="walFileName">The file's name (PostgreSQL's <c>%f</c>).</param>
    /// <param name="destinationPath">Where to write it.</param>
    /// <param name="options">How to find the cluster; by default from <c>global/pg_control</c> in the current directory.</param>
    /// <param name="cancellationToken">Cancels the fetch; the destination is then not written.</param>
    /// <returns>False when the archive does not hold the file (normal at the end of recovery).</returns>
    /// <exception cref="WalArchiveUnavailableException">The storage holds nothing at all for the cluster (no WAL, no backup).</exception>
    public async Task<bool> FetchAsync(string walFileName, string destinationPath, WalArchiveOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(walFileName);
        ArgumentException.ThrowIfNullOrEmpty(destinationPath);
        options ??= new WalArchiveOptions();
        var timeline = TimelineOf(walFileName) ?? throw new ArgumentException($"'{walFileName}' is not a WAL segment, .partial, .backup or .history file name.", nameof(walFileName));
        var systemId = options.SystemIdentifier ?? ReadControlFileSystemIdentifier(options.DataDirectory);
        ValidateSystemIdentifier(systemId);
        var manifest = await _store.FindAsync(KeyOf(systemId, timeline, walFileName), Kind, cancellationToken).ConfigureAwait(false);
        if (manifest is null)
        {
            // "Not archived" ends a recovery: say it only of an archive that is there. One that holds nothing at all, no
            // WAL of the cluster and no backup, is a volume not mounted or a wrong bucket or prefix.
            if (!await _store.HoldsAnythingAsync([$"wal/{systemId}/", "backups/"], cancellationToken).ConfigureAwait(false))
            {
                throw new WalArchiveUnavailableException(systemId);
            }

            return false;
        }

        // ToFile writes a temporary file beside the destination and renames it into place once verified.
        await _store.RestoreAsync(manifest, RestoreTargets.ToFile(destinationPath, overwrite: true), cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>The names archived for a cluster and timeline, in order (the newest segment last).</summary>
    /// <param name="systemIdentifier">The cluster's system identifier.</param>
    /// <param name="timeline">The timeline as 8 hex digits.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The archived file names.</returns>
    public async IAsyncEnumerable<string> ListAsync(string systemIdentifier, string timeline, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ValidateSystemIdentifier(systemIdentifier);
        if (!TimelinePattern().IsMatch(timeline))
        {
            throw new ArgumentException($"Timeline '{timeline}' is not 8 hex digits.", nameof(timeline));
        }

        var prefix = $"wal/{systemIdentifier}/{timeline}/";
        await foreach (var key in _store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            yield return key[prefix.Length..];
        }
    }

    /// <summary>Every archived segment (24 hex digits, any timeline) of a cluster, in name order.</summary>
    internal async IAsyncEnumerable<string> ListSegmentsAsync(string systemIdentifier, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ValidateSystemIdentifier(systemIdentifier);
        var prefix = $"wal/{systemIdentifier}/";
        await foreach (var key in _store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            var name = key[(key.LastIndexOf('/') + 1)..];
            if (SegmentName().IsMatch(name))
            {
                yield return name;
            }
        }
    }

    internal static string KeyOf(string systemId, string timeline, string name) => $"wal/{systemId}/{timeline}/{name}";

    /// <summary>The timeline (8 hex digits) a WAL file name belongs to, or null when it is not a WAL file name.</summary>
    internal static string? TimelineOf(string name) => WalFileName().IsMatch(name) ? name[..8] : null;

    /// <summary>The system identifier from a segment's first page (its long header), else from the control file.</summary>
    internal static string ReadSystemIdentifier(string walFilePath, string dataDirectory)
    {
        if (SegmentName().IsMatch(Path.GetFileName(walFilePath).Split('.')[0]) && !walFilePath.EndsWith(".backup", StringComparison.Ordinal) && !walFilePath.EndsWith(".history", StringComparison.Ordinal))
        {
            Span<byte> header = stackalloc byte[40];
            using var file = File.OpenRead(walFilePath);
            if (file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) == header.Length)
            {
                var magic = BinaryPrimitives.ReadUInt16LittleEndian(header);
                var info = BinaryPrimitives.ReadUInt16LittleEndian(header[2..]);
                if (magic >= PageMagicMin && (info & LongHeaderFlag) != 0)
                {
                    return BinaryPrimitives.ReadUInt64LittleEndian(header[24..]).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }

        return ReadControlFileSystemIdentifier(dataDirectory);
    }

    /// <summary><c>global/pg_control</c> starts with the 64-bit system identifier.</summary>
    internal static string ReadControlFileSystemIdentifier(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, "global", "pg_control");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Cannot tell which cluster this WAL belongs to: '{Path.GetFullPath(path)}' does not exist. Run from the data directory (as PostgreSQL does) or pass the system identifier.");
        }

        Span<byte> identifier = stackalloc byte[8];
        using var file = File.OpenRead(path);
        file.ReadExactly(identifier);
        return BinaryPrimitives.ReadUInt64LittleEndian(identifier).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void ValidateSystemIdentifier(string systemId)
    {
        if (!ulong.TryParse(systemId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) || value == 0)
        {
            throw new ArgumentException($"'{systemId}' is not a PostgreSQL system identifier (a positive decimal number).");
        }
    }

    private static async Task<(string Sha256, long Size)> HashFileAsync(string path, CancellationToken cancellationToken)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        await using (file.ConfigureAwait(false))
        {
            var hash = await SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false);
            return (Convert.ToHexStringLower(hash), file.Length);
        }
    }

    [GeneratedRegex("^([0-9A-F]{24}(\\.partial|\\.[0-9A-F]{8}\\.backup)?|[0-9A-F]{8}\\.history)$")]
    private static partial Regex WalFileName();

    [GeneratedRegex("^[0-9A-F]{24}$")]
    private static partial Regex SegmentName();

    [GeneratedRegex("^[0-9A-F]{8}$")]
    private static partial Regex TimelinePattern();
}

/// <summary>A WAL file of that name is already archived with different content; it is never overwritten.</summary>
public sealed class WalConflictException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="WalConflictException"/> class.</summary>
    /// <param name="fileName">The WAL file's name.</param>
    /// <param name="systemIdentifier">The cluster's system identifier.</param>
    /// <param name="timeline">The timeline.</param>
    public WalConflictException(string fileName, string systemIdentifier, string timeline)
        : base($"WAL file '{fileName}' of cluster {systemIdentifier}, timeline {timeline}, is already archived with different content; it is never overwritten. Two servers may be archiving as the same cluster.")
    {
        FileName = fileName;
    }

    /// <summary>Gets the WAL file's name.</summary>
    public string FileName { get; }
}

/// <summary>
/// The storage holds no WAL of the cluster and no backup at all: a volume that is not mounted, or a wrong bucket or
/// prefix, rather than an archive that ends here. Answering "not archived" would end a recovery at once.
/// </summary>
public sealed class WalArchiveUnavailableException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="WalArchiveUnavailableException"/> class.</summary>
    /// <param name="systemIdentifier">The cluster's system identifier.</param>
    public WalArchiveUnavailableException(string systemIdentifier)
        : base($"The storage holds nothing for cluster {systemIdentifier}: no archived WAL and no backup. Is the volume mounted, are the bucket and the prefix right? Not answering 'not archived', which would end the recovery here.")
    {
    }
}
