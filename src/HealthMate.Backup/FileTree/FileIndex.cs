using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;

namespace HealthMate.Backup.FileTree;

/// <summary>
/// The JSON Lines file index, read and written as a stream, one entry per line in <see cref="PathOrder"/>: the order
/// of the walk and of the archive, so a backup merges its parent's index and a restore matches archive entries to
/// index lines in one pass each, with memory that does not grow with the number of files.
/// </summary>
internal static class FileIndex
{
    internal const string ObjectName = "index";

    /// <summary>A line longer than this is corruption, not an entry (paths are at most a few KiB).</summary>
    private const int MaxLineBytes = 1024 * 1024;

    /// <summary>
    /// Compares archive paths segment by segment (ordinal within a segment, a parent before its children): the order
    /// of a depth-first walk that visits each folder's entries by ordinal name. Plain ordinal order differs where a
    /// name sorts below '/' ("a.txt" before "a/b").
    /// </summary>
    internal static int Compare(string x, string y)
    {
        var length = Math.Min(x.Length, y.Length);
        for (var i = 0; i < length; i++)
        {
            var a = x[i];
            var b = y[i];
            if (a != b)
            {
                return a == '/' ? -1 : b == '/' ? 1 : a.CompareTo(b);
            }
        }

        return x.Length.CompareTo(y.Length);
    }

    internal static IComparer<string> PathOrder { get; } = Comparer<string>.Create(Compare);

    /// <summary>Writes index lines to a stream, checking they come in path order.</summary>
    internal sealed class Writer(Stream destination) : IAsyncDisposable
    {
        private const int FlushThreshold = 64 * 1024;
        private readonly ArrayBufferWriter<byte> _buffer = new(FlushThreshold * 2);
        private Utf8JsonWriter? _json;
        private string? _last;

        internal long Count { get; private set; }

        internal async ValueTask WriteAsync(FileIndexEntry entry, CancellationToken cancellationToken)
        {
            if (_last is not null && Compare(_last, entry.Path) >= 0)
            {
                throw new InvalidOperationException($"Index entries must come in path order: '{entry.Path}' after '{_last}'.");
            }

            _last = entry.Path;
            if (_json is null)
            {
                _json = new Utf8JsonWriter(_buffer);
            }
            else
            {
                _json.Reset(_buffer);
            }

            JsonSerializer.Serialize(_json, entry, FileIndexJsonContext.Default.FileIndexEntry);
            _json.Flush();
            _buffer.Write("\n"u8);
            Count++;
            if (_buffer.WrittenCount >= FlushThreshold)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        internal async ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            await destination.WriteAsync(_buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            _buffer.ResetWrittenCount();
        }

        public async ValueTask DisposeAsync()
        {
            _json?.Dispose();
            await destination.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Reads index lines from a stream in order, refusing lines out of order, duplicates and malformed lines.</summary>
    internal sealed class Reader(Stream source) : IAsyncDisposable
    {
        private readonly PipeReader _pipe = PipeReader.Create(source, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
        private string? _last;
        private bool _ended;

        /// <summary>Returns the next entry, or null at the end (the source has then been read to its end, and so verified).</summary>
        internal async ValueTask<FileIndexEntry?> ReadAsync(CancellationToken cancellationToken)
        {
            while (!_ended)
            {
                var result = await _pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                var newline = buffer.PositionOf((byte)'\n');
                if (newline is null)
                {
                    if (buffer.Length > MaxLineBytes)
                    {
                        throw new BackupFormatException($"The file index has a line longer than {MaxLineBytes} bytes after '{_last}'.");
                    }

                    if (result.IsCompleted)
                    {
                        _ended = true;
                        if (!buffer.IsEmpty)
                        {
                            var entry = Parse(buffer);
                            _pipe.AdvanceTo(buffer.End);
                            return entry;
                        }

                        _pipe.AdvanceTo(buffer.End);
                        return null;
                    }

                    _pipe.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                var line = buffer.Slice(0, newline.Value);
                var parsed = line.IsEmpty ? null : Parse(line);
                _pipe.AdvanceTo(buffer.GetPosition(1, newline.Value));
                if (parsed is not null)
                {
                    return parsed;
                }
            }

            return null;
        }

        private FileIndexEntry Parse(ReadOnlySequence<byte> line)
        {
            FileIndexEntry entry;
            try
            {
                var json = new Utf8JsonReader(line);
                entry = JsonSerializer.Deserialize(ref json, FileIndexJsonContext.Default.FileIndexEntry)
                    ?? throw new BackupFormatException("The file index has a line that is not an entry.");
            }
            catch (JsonException ex)
            {
                throw new BackupFormatException($"The file index cannot be read after '{_last}': {ex.Message}", ex);
            }

            if (entry.Path is null || entry.Type is null)
            {
                throw new BackupFormatException($"The file index has an entry without a path or type after '{_last}'.");
            }

            if (_last is not null && Compare(_last, entry.Path) >= 0)
            {
                throw new BackupFormatException($"The file index is out of order: '{entry.Path}' comes after '{_last}'.");
            }

            _last = entry.Path;
            return entry;
        }

        public async ValueTask DisposeAsync()
        {
            await _pipe.CompleteAsync().ConfigureAwait(false);
            await source.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Walks an index alongside an ordered sequence of paths (a walk or an archive): <see cref="SeekAsync"/> moves to a
    /// path and returns the index's entry for it, if any, calling <c>passed</c> for every entry it leaves behind. The
    /// sought paths must not go backwards (an archive out of order is refused), except to repeat the last one.
    /// </summary>
    internal sealed class Cursor(Reader reader, Action<FileIndexEntry>? passed = null) : IAsyncDisposable
    {
        private FileIndexEntry? _current;
        private bool _started;
        private string? _lastSought;

        internal async ValueTask<FileIndexEntry?> SeekAsync(string path, CancellationToken cancellationToken)
        {
            if (_lastSought is not null && Compare(_lastSought, path) > 0)
            {
                throw new BackupFormatException($"The archive is not in index order: '{path}' comes after '{_lastSought}'.");
            }

            _lastSought = path;
            if (!_started)
            {
                _started = true;
                _current = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }

            while (_current is not null && Compare(_current.Path, path) < 0)
            {
                await AdvanceAsync(cancellationToken).ConfigureAwait(false);
            }

            return _current is not null && Compare(_current.Path, path) == 0 ? _current : null;
        }

        /// <summary>Passes every entry left and reads the index to its end, where its checksums are verified.</summary>
        internal async ValueTask FinishAsync(CancellationToken cancellationToken)
        {
            if (!_started)
            {
                _started = true;
                _current = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }

            while (_current is not null)
            {
                await AdvanceAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        private async ValueTask AdvanceAsync(CancellationToken cancellationToken)
        {
            passed?.Invoke(_current!);
            _current = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }

        public ValueTask DisposeAsync() => reader.DisposeAsync();
    }
}
