using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Encryption;

namespace HealthMate.Backup.Pipeline;

/// <summary>
/// The stages of the restore pipeline: read and hash stored bytes → decrypt segments → decompress frames.
/// The stored size and SHA-256 are checked before the last piece of data is released downstream, so a target never
/// sees the end of a stream whose checksum does not match.
/// </summary>
internal static class RestoreStages
{
    /// <summary>Reads the header and the encrypted segments of an object; the header must be the one its manifest
    /// describes (<paramref name="expected"/>) before the first segment is released.</summary>
    internal static async IAsyncEnumerable<BackupStages.Segment> ReadSegmentsAsync(
        PipeReader reader,
        IEncryptor encryptor,
        ExpectedObject expected,
        DecryptionHolder holder,
        StoredObjectCheck check,
        ProgressReporter progress,
        ChunkPool pool,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var segmentLength = -1;
        long index = 0;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (segmentLength < 0)
            {
                if (buffer.Length < encryptor.MaxHeaderLength && !result.IsCompleted)
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                if (!encryptor.TryBeginDecryption(buffer, expected.AssociatedData, out var session, out var headerLength))
                {
                    throw new BackupTruncatedException("The encrypted object ends inside its header: the object was cut short.");
                }

                holder.Session = session;
                expected.Check(session!);
                segmentLength = session!.PlaintextSegmentSize + session.SegmentOverhead;
                check.Append(buffer.Slice(0, headerLength));
                progress.AddRead(headerLength);
                buffer = buffer.Slice(headerLength);
            }

            // Emit every segment that is known not to be the last: one followed by at least one more byte.
            while (buffer.Length > segmentLength)
            {
                yield return new BackupStages.Segment(TakeChunk(ref buffer, segmentLength, check, progress, pool), index++, IsLast: false);
            }

            if (result.IsCompleted)
            {
                if (buffer.IsEmpty && index > 0)
                {
                    // Unreachable by construction (a segment is emitted as non-last only when data follows it).
                    throw new InvalidOperationException("No final segment.");
                }

                var last = TakeChunk(ref buffer, (int)buffer.Length, check, progress, pool);
                try
                {
                    check.Complete();
                }
                catch
                {
                    // Not handled here: only give the buffer back before the checksum error propagates.
                    last.Return();
                    throw;
                }

                reader.AdvanceTo(buffer.End);
                yield return new BackupStages.Segment(last, index, IsLast: true);
                yield break;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads the bytes of an unencrypted object in chunks, holding the last one back until the checksum matches.</summary>
    internal static async IAsyncEnumerable<Chunk> ReadChunksAsync(
        PipeReader reader,
        int chunkSize,
        StoredObjectCheck check,
        ProgressReporter progress,
        ChunkPool pool,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Chunk? pending = null;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            while (buffer.Length >= chunkSize || (result.IsCompleted && !buffer.IsEmpty))
            {
                var next = TakeChunk(ref buffer, (int)Math.Min(chunkSize, buffer.Length), check, progress, pool);
                if (pending is { } ready)
                {
                    yield return ready;
                }

                pending = next;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        check.Complete();
        if (pending is { } final)
        {
            yield return final;
        }
    }

    /// <summary>Decrypts segments in parallel, in order.</summary>
    internal static IAsyncEnumerable<Chunk> DecryptAsync(IAsyncEnumerable<BackupStages.Segment> segments, DecryptionHolder holder, int parallelism, ChunkPool pool, CancellationToken cancellationToken) =>
        OrderedParallel.SelectAsync(
            segments,
            segment =>
            {
                try
                {
                    var session = holder.Session!;
                    var length = segment.Plain.Length - session.SegmentOverhead;
                    var output = pool.Rent(Math.Max(length, 0));
                    try
                    {
                        session.DecryptSegment(segment.Index, segment.IsLast, segment.Plain.Span, output.Buffer.AsSpan(0, Math.Max(length, 0)));
                        return output.WithLength(length);
                    }
                    catch
                    {
                        output.Return();
                        throw;
                    }
                }
                finally
                {
                    segment.Plain.Return();
                }
            },
            parallelism,
            PipelineStage.Decrypt,
            static chunk => chunk.Return(),
            cancellationToken);

    /// <summary>Decompresses: zstd frames on all cores, other formats as one stream.</summary>
    internal static IAsyncEnumerable<Chunk> DecompressAsync(IAsyncEnumerable<Chunk> input, ICompressor compressor, int maxFrameContent, int maxInputChunk, int parallelism, ChunkPool pool, CancellationToken cancellationToken)
    {
        if (compressor is NoCompressor)
        {
            return input;
        }

        if (compressor is ZstdCompressor zstd)
        {
            return OrderedParallel.SelectAsync(
                SplitZstdFramesAsync(input, maxFrameContent, zstd.GetMaxCompressedLength(maxFrameContent), maxInputChunk, pool, cancellationToken),
                frame =>
                {
                    try
                    {
                        var output = pool.Rent((int)frame.ContentSize);
                        try
                        {
                            var written = zstd.DecompressFrame(frame.Data.Span, output.Buffer.AsSpan(0, (int)frame.ContentSize));
                            if (written != frame.ContentSize)
                            {
                                throw new BackupFormatException($"A zstd frame decoded to {written} bytes; its header says {frame.ContentSize}.");
                            }

                            return output.WithLength(written);
                        }
                        catch
                        {
                            output.Return();
                            throw;
                        }
                    }
                    finally
                    {
                        frame.Data.Return();
                    }
                },
                parallelism,
                PipelineStage.Decompress,
                static chunk => chunk.Return(),
                cancellationToken);
        }

        return DecompressSequentiallyAsync(input, compressor, pool, cancellationToken);
    }

    private static async IAsyncEnumerable<ZstdFrame> SplitZstdFramesAsync(IAsyncEnumerable<Chunk> input, int maxContent, int maxFrameLength, int maxInputChunk, ChunkPool pool, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(maxFrameLength + maxInputChunk);
        var start = 0;
        var end = 0;
        await foreach (var chunk in input.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                if (end + chunk.Length > buffer.Length)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                    if (end + chunk.Length > buffer.Length)
                    {
                        throw new StageFailure(PipelineStage.Decompress, new BackupFormatException($"A zstd frame is longer than {maxFrameLength} bytes, the most a {maxContent}-byte block compresses to."));
                    }
                }

                Buffer.BlockCopy(chunk.Buffer, 0, buffer, end, chunk.Length);
                end += chunk.Length;
            }
            finally
            {
                chunk.Return();
            }

            while (TryCutFrame(buffer, ref start, end, maxContent, maxFrameLength, pool, out var frame))
            {
                if (frame.ContentSize > 0)
                {
                    yield return frame;
                }
                else
                {
                    frame.Data.Return();
                }
            }
        }

        if (end != start)
        {
            throw new StageFailure(PipelineStage.Decompress, new BackupFormatException($"The compressed data ends with {end - start} bytes that are not a complete zstd frame."));
        }
    }

    private static bool TryCutFrame(byte[] buffer, ref int start, int end, int maxContent, int maxFrameLength, ChunkPool pool, out ZstdFrame frame)
    {
        frame = default;
        int length;
        long contentSize;
        try
        {
            if (!ZstdFrameReader.TryReadFrame(buffer.AsSpan(start, end - start), out length, out contentSize))
            {
                return false;
            }

            if (contentSize < 0 || contentSize > maxContent)
            {
                throw new BackupFormatException($"A zstd frame records content size {contentSize}; frames of this backup hold at most {maxContent} bytes.");
            }
        }
        catch (BackupFormatException ex)
        {
            throw new StageFailure(PipelineStage.Decompress, ex);
        }

        // Frames vary in length; renting the largest frame size keeps them in one size class of the pool.
        var data = pool.Rent(Math.Max(length, maxFrameLength));
        Buffer.BlockCopy(buffer, start, data.Buffer, 0, length);
        start += length;
        frame = new ZstdFrame(data.WithLength(length), contentSize);
        return true;
    }

    private static async IAsyncEnumerable<Chunk> DecompressSequentiallyAsync(IAsyncEnumerable<Chunk> input, ICompressor compressor, ChunkPool pool, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var compressed = new ChunkSequenceStream(input, cancellationToken);
        await using var compressedScope = compressed.ConfigureAwait(false);
        var decompressing = compressor.CreateDecompressionStream(compressed);
        await using var decompressingScope = decompressing.ConfigureAwait(false);
        while (true)
        {
            var chunk = pool.Rent(CompressionOptions.DefaultBlockSize);
            int read;
            try
            {
                read = await ReadFullyAsync(decompressing, chunk.Buffer.AsMemory(0, CompressionOptions.DefaultBlockSize), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException && !compressed.SourceFailed)
            {
                chunk.Return();
                throw new StageFailure(PipelineStage.Decompress, new BackupFormatException($"The {compressor.Name} data could not be decoded: {ex.Message}", ex));
            }
            catch
            {
                chunk.Return();
                throw;
            }

            if (read == 0)
            {
                chunk.Return();
                yield break;
            }

            yield return chunk.WithLength(read);
        }
    }

    private static async ValueTask<int> ReadFullyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    private static Chunk TakeChunk(ref ReadOnlySequence<byte> buffer, int length, StoredObjectCheck check, ProgressReporter progress, ChunkPool pool)
    {
        var slice = buffer.Slice(0, length);
        check.Append(slice);
        progress.AddRead(length);
        var chunk = pool.Rent(length);
        slice.CopyTo(chunk.Buffer);
        buffer = buffer.Slice(length);
        return chunk.WithLength(length);
    }

    /// <summary>What the manifest says of an encrypted object: its associated data (backup id and name), key id, salt
    /// (recorded for the data object only) and, for a format-2 manifest, that its header is format 2 too.</summary>
    internal sealed record ExpectedObject(string Subject, byte[] AssociatedData, string? KeyId, string? SaltHex, byte MinimumHeaderVersion)
    {
        internal void Check(IDecryptionSession session)
        {
            if (KeyId is not null && !string.Equals(session.KeyId, KeyId, StringComparison.Ordinal))
            {
                throw new BackupObjectReplacedException(Subject, $"its header names key '{session.KeyId}', the manifest '{KeyId}'");
            }

            if (AesGcmStreamingEncryptor.HeaderOf(session) is not { } header)
            {
                return;
            }

            if (header.FormatVersion < MinimumHeaderVersion)
            {
                throw new BackupObjectReplacedException(Subject, $"its header is format {header.FormatVersion}, written before its format-{MinimumHeaderVersion} manifest");
            }

            if (SaltHex is not null && !string.Equals(header.SaltHex, SaltHex, StringComparison.Ordinal))
            {
                throw new BackupObjectReplacedException(Subject, "its salt differs from the manifest's");
            }
        }
    }

    /// <summary>Holds the decryption session, known once the header has been read.</summary>
    internal sealed class DecryptionHolder : IDisposable
    {
        internal IDecryptionSession? Session { get; set; }

        public void Dispose() => Session?.Dispose();
    }

    private readonly record struct ZstdFrame(Chunk Data, long ContentSize);
}
