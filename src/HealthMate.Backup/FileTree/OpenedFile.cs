using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace HealthMate.Backup.FileTree;

/// <summary>
/// A regular file opened for backup, with its length and status taken from the open descriptor (so what is recorded
/// is what is read), read with positional reads on the calling thread (a file in the page cache needs no hop to the
/// thread pool), and checked again after reading to see whether it changed meanwhile.
/// </summary>
internal sealed class OpenedFile : IAsyncDisposable
{
    private const int PermissionDenied = 13;
    private const int NotPermitted = 1;
    private const int NotADirectory = 20;

    private readonly SafeFileHandle? _handle;
    private readonly string _path;
    private readonly DateTime _managedModifiedAt;

    private OpenedFile(Stream stream, long length, FileStatus? status, SafeFileHandle? handle, string path, DateTime managedModifiedAt)
    {
        Stream = stream;
        Length = length;
        Status = status;
        _handle = handle;
        _path = path;
        _managedModifiedAt = managedModifiedAt;
    }

    internal Stream Stream { get; }

    /// <summary>Gets the length when opened: the archive entry's length, whatever happens to the file while it is read.</summary>
    internal long Length { get; }

    /// <summary>Gets the open file's status, where <see cref="FileStatus"/> is supported.</summary>
    internal FileStatus? Status { get; }

    /// <summary>
    /// Opens a file. Returns null with a null <paramref name="failure"/> when it is gone (or became a link);
    /// with <see cref="NotSupportedException"/> when it is no longer a regular file; with the error when it cannot be read.
    /// </summary>
    internal static OpenedFile? Open(string path, out Exception? failure)
    {
        failure = null;
        if (!FileStatus.IsSupported)
        {
            return OpenManaged(path, out failure);
        }

        var handle = FileSystemNative.OpenForBackup(path, out var errno);
        if (handle is null)
        {
            failure = errno switch
            {
                FileSystemNative.NoSuchEntry or FileSystemNative.TooManyLinks or NotADirectory => null,
                PermissionDenied or NotPermitted => new UnauthorizedAccessException($"Permission denied (errno {errno})."),
                _ => new IOException($"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})."),
            };
            return null;
        }

        if (!FileStatus.TryGet(handle, out var status) || !status.IsRegularFile)
        {
            handle.Dispose();
            failure = new NotSupportedException("not a regular file");
            return null;
        }

        return new OpenedFile(new HandleReadStream(handle), status.Size, status, handle, path, default);
    }

    /// <summary>Whether the file's size or modification time moved since it was opened.</summary>
    internal bool ChangedSinceOpen()
    {
        if (_handle is not null)
        {
            return !FileStatus.TryGet(_handle, out var now) || now.Size != Status!.Value.Size || now.ModifiedAt != Status.Value.ModifiedAt;
        }

        var after = new FileInfo(_path);
        return !after.Exists || after.Length != Length || after.LastWriteTimeUtc != _managedModifiedAt;
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync().ConfigureAwait(false);
        _handle?.Dispose();
    }

    private static OpenedFile? OpenManaged(string path, out Exception? failure)
    {
        failure = null;
        try
        {
            var before = new FileInfo(path);
            if (!before.Exists)
            {
                return null;
            }

            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0, FileOptions.SequentialScan);
            return new OpenedFile(stream, before.Length, null, null, path, before.LastWriteTimeUtc);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            failure = ex;
            return null;
        }
    }

    /// <summary>Forward reads of an open file with <c>pread</c>, synchronously even when asked asynchronously.</summary>
    private sealed class HandleReadStream(SafeFileHandle handle) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var read = RandomAccess.Read(handle, buffer, _position);
            _position += read;
            return read;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult(Read(buffer.Span));
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
