using System.Formats.Tar;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Pipeline;

namespace HealthMate.Backup.FileTree;

/// <summary>
/// Restores and deep-verifies a backup point from its chain: each holder's archive contributes the files the point's
/// index says it holds. The index is read as a stream alongside each archive (both are in path order), so memory does
/// not grow with the number of files, and a file the index lists but its holder's archive lacks is an error.
/// </summary>
[UnsupportedOSPlatform("windows")]
internal sealed class FileTreeRestoreRunner(BackupEnvironment environment, RestoreRunner restoreRunner) : IFileTreeRestoreRunner
{
    public async ValueTask<DirectoryRestoreResult> RestoreAsync(string backupId, string targetDirectory, DirectoryRestoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        BackupId.Validate(backupId);
        ArgumentException.ThrowIfNullOrEmpty(targetDirectory);
        var (point, chain) = await PlanAsync(backupId, cancellationToken).ConfigureAwait(false);
        using var session = TarExtractor.Session.Begin(targetDirectory, options ?? new DirectoryRestoreOptions());
        foreach (var holder in chain)
        {
            var target = new SessionTarget(session, point, holder.BackupId, isPoint: holder.BackupId == point.BackupId, restoreRunner);
            await restoreRunner.RestoreCoreAsync(holder, target, new ProgressReporter(null, environment.TimeProvider), cancellationToken).ConfigureAwait(false);
        }

        return session.Commit();
    }

    public async ValueTask<VerificationResult> VerifyDeepAsync(string backupId, CancellationToken cancellationToken = default)
    {
        BackupId.Validate(backupId);
        var started = environment.TimeProvider.GetTimestamp();
        long bytes = 0;
        try
        {
            var (point, chain) = await PlanAsync(backupId, cancellationToken).ConfigureAwait(false);
            foreach (var holder in chain)
            {
                var target = new HashingTarget(point, holder.BackupId, restoreRunner);
                await restoreRunner.RestoreCoreAsync(holder, target, new ProgressReporter(null, environment.TimeProvider), cancellationToken).ConfigureAwait(false);
                bytes += target.Bytes;
            }

            return new VerificationResult(backupId, VerificationLevel.Full, null, bytes, environment.TimeProvider.GetElapsedTime(started));
        }
        catch (BackupIntegrityException ex)
        {
            return new VerificationResult(backupId, VerificationLevel.Full, ex, bytes, environment.TimeProvider.GetElapsedTime(started));
        }
        catch (BackupStageException ex) when (ex.InnerException is BackupIntegrityException integrity)
        {
            return new VerificationResult(backupId, VerificationLevel.Full, integrity, bytes, environment.TimeProvider.GetElapsedTime(started));
        }
    }

    /// <summary>The point and the backups holding its files, oldest first, the point last (one pass over its index).</summary>
    private async Task<(BackupManifest Point, List<BackupManifest> Chain)> PlanAsync(string backupId, CancellationToken cancellationToken)
    {
        var point = await environment.Catalog.GetAsync(backupId, cancellationToken).ConfigureAwait(false);
        if (point.Objects?.ContainsKey(FileIndex.ObjectName) != true)
        {
            throw new BackupFormatException($"Backup {backupId} has no file index: it is not a file-tree backup.");
        }

        var holders = new SortedSet<string>(StringComparer.Ordinal);
        var reader = await OpenIndexAsync(restoreRunner, point, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false) is { } entry)
            {
                if (entry.Type == FileIndexEntry.File && entry.Holder != backupId)
                {
                    holders.Add(entry.Holder ?? throw new BackupFormatException($"File '{entry.Path}' in the index of backup {backupId} names no holder."));
                }
            }
        }

        var chain = new List<BackupManifest>();
        foreach (var holderId in holders)
        {
            var holder = await environment.Catalog.FindAsync(point.Kind, holderId, cancellationToken).ConfigureAwait(false)
                ?? throw new BackupNotFoundException(holderId);
            chain.Add(holder);
        }

        chain.Add(point);
        return (point, chain);
    }

    private static async Task<FileIndex.Reader> OpenIndexAsync(RestoreRunner restoreRunner, BackupManifest point, CancellationToken cancellationToken) =>
        new(await restoreRunner.OpenObjectAsync(point, FileIndex.ObjectName, cancellationToken).ConfigureAwait(false));

    private static BackupFormatException Missing(FileIndexEntry entry, string pointId) =>
        new($"File '{entry.Path}' of backup {pointId} is listed in its index but missing from the archive of backup {entry.Holder}.");

    /// <summary>Feeds one holder's archive into the shared extraction session, keeping the entries the point's index assigns to it.</summary>
    private sealed class SessionTarget(TarExtractor.Session session, BackupManifest point, string holderId, bool isPoint, RestoreRunner restoreRunner) : IRestoreTarget
    {
        public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default)
        {
            string? lastFile = null;
            var cursor = new FileIndex.Cursor(await OpenIndexAsync(restoreRunner, point, cancellationToken).ConfigureAwait(false), passed: entry =>
            {
                if (entry.Type == FileIndexEntry.File && entry.Holder == holderId && !string.Equals(lastFile, entry.Path, StringComparison.Ordinal))
                {
                    throw Missing(entry, point.BackupId);
                }
            });
            await using (cursor.ConfigureAwait(false))
            {
                // Older holders give only the files the point says they hold; the point's own archive gives the rest
                // (folders, links, and the files it holds). Paths not in the point's index were deleted before it.
                await session.ExtractAsync(
                    source,
                    async (relative, entry) =>
                    {
                        if (await cursor.SeekAsync(relative, cancellationToken).ConfigureAwait(false) is not { } expected)
                        {
                            return false;
                        }

                        if (expected.Type != FileIndexEntry.File)
                        {
                            return isPoint;
                        }

                        if (expected.Holder != holderId || entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                        {
                            return false;
                        }

                        lastFile = relative;
                        return true;
                    },
                    cancellationToken).ConfigureAwait(false);
                await cursor.FinishAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Hashes the files a holder's archive holds for the point and compares them with the index.</summary>
    private sealed class HashingTarget(BackupManifest point, string holderId, RestoreRunner restoreRunner) : IRestoreTarget
    {
        internal long Bytes { get; private set; }

        public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default)
        {
            // A file read twice (it changed while it was read) appears twice in its archive; only the last copy must match.
            string? lastPath = null;
            string? lastHash = null;
            var cursor = new FileIndex.Cursor(await OpenIndexAsync(restoreRunner, point, cancellationToken).ConfigureAwait(false), passed: expected =>
            {
                if (expected.Type != FileIndexEntry.File || expected.Holder != holderId)
                {
                    return;
                }

                if (!string.Equals(lastPath, expected.Path, StringComparison.Ordinal))
                {
                    throw Missing(expected, point.BackupId);
                }

                if (!string.Equals(lastHash, expected.Sha256, StringComparison.Ordinal))
                {
                    throw new ChecksumMismatchException($"file '{expected.Path}' in backup {holderId}", expected.Sha256 ?? "?", lastHash ?? "?");
                }
            });
            await using (cursor.ConfigureAwait(false))
            {
                using var reader = new TarReader(source, leaveOpen: true);
                while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
                {
                    var relative = TarExtractor.SafeRelativePath(entry.Name, entry.Name);
                    if (relative is null || entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                        || await cursor.SeekAsync(relative, cancellationToken).ConfigureAwait(false) is not { Type: FileIndexEntry.File } expected
                        || expected.Holder != holderId)
                    {
                        continue;
                    }

                    var actual = entry.DataStream is null ? SHA256.HashData(ReadOnlySpan<byte>.Empty) : await SHA256.HashDataAsync(entry.DataStream, cancellationToken).ConfigureAwait(false);
                    Bytes += entry.Length;
                    lastPath = relative;
                    lastHash = Convert.ToHexStringLower(actual);
                }

                await source.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
                await cursor.FinishAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
