using System.Formats.Tar;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Pipeline;

namespace HealthMate.Backup.FileTree;

/// <summary>Plans a chain restore from the point's index: each holder's archive contributes the files it holds.</summary>
[UnsupportedOSPlatform("windows")]
internal sealed class FileTreeRestoreRunner(BackupEnvironment environment, RestoreRunner restoreRunner) : IFileTreeRestoreRunner
{
    public async ValueTask<DirectoryRestoreResult> RestoreAsync(string backupId, string targetDirectory, DirectoryRestoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        BackupId.Validate(backupId);
        ArgumentException.ThrowIfNullOrEmpty(targetDirectory);
        var (point, index, chain) = await PlanAsync(backupId, cancellationToken).ConfigureAwait(false);
        using var session = TarExtractor.Session.Begin(targetDirectory, options ?? new DirectoryRestoreOptions());
        foreach (var holder in chain)
        {
            // Older holders give only the files the point says they hold; the point's own archive gives the rest
            // (folders, links, and the files it holds). Paths not in the point's index were deleted before it.
            var isPoint = holder.BackupId == point.BackupId;
            var target = new SessionTarget(session, (relative, entry) => index.TryGetValue(relative, out var e)
                && (e.Type == FileIndexEntry.File ? e.Holder == holder.BackupId : isPoint)
                && (e.Type != FileIndexEntry.File || entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile));
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
            var (point, index, chain) = await PlanAsync(backupId, cancellationToken).ConfigureAwait(false);
            var pending = index.Values.Where(e => e.Type == FileIndexEntry.File).ToDictionary(e => e.Path, StringComparer.Ordinal);
            foreach (var holder in chain)
            {
                var target = new HashingTarget(holder.BackupId, index, pending);
                await restoreRunner.RestoreCoreAsync(holder, target, new ProgressReporter(null, environment.TimeProvider), cancellationToken).ConfigureAwait(false);
                bytes += target.Bytes;
            }

            if (pending.Count > 0)
            {
                var missing = pending.Values.First();
                throw new BackupFormatException($"File '{missing.Path}' of backup {point.BackupId} is listed in its index but missing from backup {missing.Holder} ({pending.Count} missing in all).");
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

    /// <summary>The point, its index, and the backups holding its files, oldest first, the point last.</summary>
    private async Task<(BackupManifest Point, Dictionary<string, FileIndexEntry> Index, List<BackupManifest> Chain)> PlanAsync(string backupId, CancellationToken cancellationToken)
    {
        var point = await environment.Catalog.GetAsync(backupId, cancellationToken).ConfigureAwait(false);
        if (point.Objects?.ContainsKey(FileIndex.ObjectName) != true)
        {
            throw new BackupFormatException($"Backup {backupId} has no file index: it is not a file-tree backup.");
        }

        var index = FileIndex.Read(await restoreRunner.ReadObjectAsync(point, FileIndex.ObjectName, cancellationToken).ConfigureAwait(false));
        var chain = new List<BackupManifest>();
        foreach (var holderId in index.Values.Where(e => e.Type == FileIndexEntry.File && e.Holder != backupId).Select(e => e.Holder!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var holder = await environment.Catalog.FindAsync(point.Kind, holderId, cancellationToken).ConfigureAwait(false)
                ?? throw new BackupNotFoundException(holderId);
            chain.Add(holder);
        }

        chain.Add(point);
        return (point, index, chain);
    }

    /// <summary>Feeds one holder's archive into the shared extraction session.</summary>
    private sealed class SessionTarget(TarExtractor.Session session, Func<string, TarEntry, bool> filter) : IRestoreTarget
    {
        public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default) =>
            await session.ExtractAsync(source, filter, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Hashes the files a holder's archive holds for the point and compares them with the index.</summary>
    private sealed class HashingTarget(string holderId, Dictionary<string, FileIndexEntry> index, Dictionary<string, FileIndexEntry> pending) : IRestoreTarget
    {
        internal long Bytes { get; private set; }

        public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default)
        {
            using var reader = new TarReader(source, leaveOpen: true);
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                var relative = TarExtractor.SafeRelativePath(entry.Name, entry.Name);
                if (relative is null || entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                    || !index.TryGetValue(relative, out var expected) || expected.Type != FileIndexEntry.File || expected.Holder != holderId)
                {
                    continue;
                }

                var actual = entry.DataStream is null ? SHA256.HashData(ReadOnlySpan<byte>.Empty) : await SHA256.HashDataAsync(entry.DataStream, cancellationToken).ConfigureAwait(false);
                Bytes += entry.Length;
                var hex = Convert.ToHexStringLower(actual);
                if (!string.Equals(hex, expected.Sha256, StringComparison.Ordinal))
                {
                    // A file read twice (it changed while read) appears twice; only the last copy must match.
                    pending[relative] = expected;
                    continue;
                }

                pending.Remove(relative);
            }

            await source.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            foreach (var left in pending.Values.Where(p => p.Holder == holderId))
            {
                throw new ChecksumMismatchException($"file '{left.Path}' in backup {holderId}", left.Sha256 ?? "?", "different content or missing");
            }
        }
    }
}
