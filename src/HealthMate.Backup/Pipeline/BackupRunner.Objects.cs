using System.IO.Pipelines;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Pipeline;

/// <summary>Companion objects: attached ones (small, in memory) and streamed ones (stored while the data is).</summary>
internal sealed partial class BackupRunner
{
    /// <summary>How much a streamed object's writer may run ahead of its store before it waits.</summary>
    private const int ObjectPipeThreshold = 1024 * 1024;

    /// <summary>Stores the source's attached objects through the same pipeline, each with its own encryption session.</summary>
    private async Task<IReadOnlyDictionary<string, ManifestData>?> StoreObjectsAsync(BackupContext context, string kind, string backupId, ICompressor compressor, List<string> storedKeys, CancellationToken cancellationToken)
    {
        if (context.Objects.Count == 0)
        {
            return null;
        }

        var result = new SortedDictionary<string, ManifestData>(StringComparer.Ordinal);
        foreach (var (name, content) in context.Objects)
        {
            var key = environment.Layout.ObjectKey(kind, backupId, name);
            using var session = environment.Options.Encryption.Enabled ? environment.CreateEncryptor().BeginEncryption(ObjectBinding.Of(backupId, name)) : null;
            var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: SourcePipeThreshold, resumeWriterThreshold: SourcePipeThreshold / 2, useSynchronizationContext: false));
            var writing = WriteBytesAsync(pipe.Writer, content, cancellationToken);
            var (info, plaintextSha256, storedSha256) = await StoreAsync(pipe.Reader, writing, compressor, session, key, new ProgressReporter(null, environment.TimeProvider), cancellationToken).ConfigureAwait(false);
            storedKeys.Add(key);
            result[name] = Describe(kind, backupId, name, info, content.Length, plaintextSha256, storedSha256);
        }

        return result;
    }

    private static ManifestData Describe(string kind, string backupId, string name, StorageObjectInfo info, long plaintextSize, string plaintextSha256, string storedSha256) => new()
    {
        Key = StorageLayout.RelativeObjectKey(kind, backupId, name),
        StoredSize = info.Size,
        StoredSha256 = storedSha256,
        PlaintextSize = plaintextSize,
        PlaintextSha256 = plaintextSha256,
    };

    private static async Task WriteBytesAsync(PipeWriter writer, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            await writer.WriteAsync(content, cancellationToken).ConfigureAwait(false);
            await writer.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Boundary: the error travels down the pipe to the stage reading it.
            await writer.CompleteAsync(StageFailure.Tag(PipelineStage.Source, ex)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The objects a source opened with <see cref="BackupContext.OpenObjectAsync"/>: each is stored by its own pipeline
    /// while the source writes it, and committed when the source closes it. The manifest lists them only once all are
    /// stored; a failed run deletes the ones already committed.
    /// </summary>
    private sealed class StreamedObjects(BackupRunner runner, BackupEnvironment environment, string kind, string backupId, ICompressor compressor, CancellationToken runToken)
    {
        private readonly List<Entry> _entries = [];
        private readonly Lock _gate = new();
        private bool _handedOver;

        internal ValueTask<Stream> OpenAsync(string name, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entry = new Entry(name, environment.Layout.ObjectKey(kind, backupId, name), new ProgressReporter(null, environment.TimeProvider));
            entry.Store = Task.Run(async () =>
            {
                using var session = environment.Options.Encryption.Enabled ? environment.CreateEncryptor().BeginEncryption(ObjectBinding.Of(backupId, entry.Name)) : null;
                return await runner.StoreAsync(entry.Pipe.Reader, entry.Closed.Task, compressor, session, entry.Key, entry.Reporter, runToken).ConfigureAwait(false);
            }, CancellationToken.None);
            lock (_gate)
            {
                _entries.Add(entry);
            }

            return ValueTask.FromResult<Stream>(new ObjectWriteStream(entry, runToken));
        }

        /// <summary>Closes what the source left open, waits for every store, and adds the objects to the manifest's list.</summary>
        internal async Task<IReadOnlyDictionary<string, ManifestData>?> CompleteAsync(IReadOnlyDictionary<string, ManifestData>? attached, List<string> storedKeys)
        {
            Entry[] entries;
            lock (_gate)
            {
                entries = [.. _entries];
            }

            if (entries.Length == 0)
            {
                return attached;
            }

            var result = new SortedDictionary<string, ManifestData>(StringComparer.Ordinal);
            foreach (var (name, descriptor) in attached ?? new Dictionary<string, ManifestData>())
            {
                result[name] = descriptor;
            }

            foreach (var entry in entries)
            {
                entry.Close(null);
            }

            foreach (var entry in entries)
            {
                var (info, plaintextSha256, storedSha256) = await entry.Store.ConfigureAwait(false);
                result[entry.Name] = Describe(kind, backupId, entry.Name, info, entry.Reporter.BytesRead, plaintextSha256, storedSha256);
            }

            storedKeys.AddRange(entries.Select(e => e.Key));
            _handedOver = true;
            return result;
        }

        /// <summary>Stops every store and returns the keys of objects already committed (not yet in the run's list), to delete.</summary>
        internal async Task<IReadOnlyList<string>> AbortAsync(Exception error)
        {
            Entry[] entries;
            lock (_gate)
            {
                entries = [.. _entries];
            }

            var committed = new List<string>();
            foreach (var entry in entries)
            {
                entry.Close(error);
                try
                {
                    await entry.Store.ConfigureAwait(false);
                    committed.Add(entry.Key);
                }
                catch (Exception)
                {
                    // Boundary: the run is already failing with its first error; an aborted store left nothing behind.
                }
            }

            return _handedOver ? [] : committed;
        }
    }

    /// <summary>One streamed object: the pipe the source writes into and the store that reads it.</summary>
    private sealed class Entry(string name, string key, ProgressReporter reporter)
    {
        internal string Name { get; } = name;

        internal string Key { get; } = key;

        internal ProgressReporter Reporter { get; } = reporter;

        internal Pipe Pipe { get; } = new(new PipeOptions(pauseWriterThreshold: ObjectPipeThreshold, resumeWriterThreshold: ObjectPipeThreshold / 2, minimumSegmentSize: 64 * 1024, useSynchronizationContext: false));

        /// <summary>Completes when the source has closed the object: the store commits only then.</summary>
        internal TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Task<(StorageObjectInfo Info, string PlaintextSha256, string StoredSha256)> Store { get; set; } = null!;

        private int _closed;

        /// <summary>Ends the object: cleanly, or with an error that makes its store abort.</summary>
        internal void Close(Exception? error)
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            Pipe.Writer.Complete(error is null ? null : StageFailure.Tag(PipelineStage.Source, error));
            if (error is null)
            {
                Closed.TrySetResult();
            }
            else
            {
                Closed.TrySetException(error);
            }
        }
    }

    /// <summary>The write-only stream a source gets for a streamed object; disposing it closes the object.</summary>
    private sealed class ObjectWriteStream(Entry entry, CancellationToken runToken) : WriteOnlyStream
    {
        // Sources write asynchronously (IBackupSource.WriteToAsync); a synchronous write has to wait for the store's
        // back-pressure like any other, so it blocks on the asynchronous one.
        public override void Write(ReadOnlySpan<byte> buffer) => WriteAsync(buffer.ToArray()).AsTask().GetAwaiter().GetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // The run's token first: once the store has stopped, the pipe no longer waits and so no longer observes it.
            runToken.ThrowIfCancellationRequested();
            var result = await entry.Pipe.Writer.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (result.IsCompleted)
            {
                throw new IOException($"The '{entry.Name}' object can no longer be written: its store has stopped.");
            }
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                entry.Close(null);
            }

            base.Dispose(disposing);
        }
    }
}
