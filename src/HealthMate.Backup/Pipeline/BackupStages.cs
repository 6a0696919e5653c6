using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Encryption;

namespace HealthMate.Backup.Pipeline;

/// <summary>The stages of the backup pipeline: source blocks → compress → segment and encrypt. Each is a lazy, bounded sequence.</summary>
internal static class BackupStages
{
    /// <summary>Cuts the source's bytes into blocks, hashing and counting the plaintext on the way.</summary>
    internal static async IAsyncEnumerable<Chunk> ReadBlocksAsync(
        PipeReader reader,
        int blockSize,
        IncrementalHash plaintextHash,
        ProgressReporter progress,
        ChunkPool pool,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var block = pool.Rent(blockSize);
        var filled = 0;
        try
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    throw StageFailure.Tag(PipelineStage.Source, ex);
                }

                var buffer = result.Buffer;
                Hash(plaintextHash, buffer);
                progress.AddRead(buffer.Length);
                while (!buffer.IsEmpty)
                {
                    var count = (int)Math.Min(buffer.Length, blockSize - filled);
                    buffer.Slice(0, count).CopyTo(block.Buffer.AsSpan(filled));
                    filled += count;
                    buffer = buffer.Slice(count);
                    if (filled == blockSize)
                    {
                        var full = block.WithLength(filled);
                        block = pool.Rent(blockSize);
                        filled = 0;
                        yield return full;
                    }
                }

                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            if (filled > 0)
            {
                var last = block.WithLength(filled);
                block = default;
                yield return last;
            }
        }
        finally
        {
            if (!block.IsEmpty)
            {
                block.Return();
            }
        }
    }

    /// <summary>Compresses blocks: in parallel into concatenated frames when the format allows it, else as one stream.</summary>
    internal static IAsyncEnumerable<Chunk> CompressAsync(IAsyncEnumerable<Chunk> blocks, ICompressor compressor, int parallelism, ChunkPool pool, CancellationToken cancellationToken)
    {
        if (compressor is NoCompressor)
        {
            return blocks;
        }

        if (!compressor.SupportsIndependentBlocks)
        {
            return CompressSequentiallyAsync(blocks, compressor, pool, cancellationToken);
        }

        return OrderedParallel.SelectAsync(
            blocks,
            block =>
            {
                try
                {
                    var bound = compressor.GetMaxCompressedLength(block.Length);
                    var output = pool.Rent(bound);
                    try
                    {
                        return output.WithLength(compressor.CompressBlock(block.Span, output.Buffer.AsMemory(0, bound)));
                    }
                    catch
                    {
                        output.Return();
                        throw;
                    }
                }
                finally
                {
                    block.Return();
                }
            },
            parallelism,
            PipelineStage.Compress,
            static chunk => chunk.Return(),
            cancellationToken);
    }

    /// <summary>Regroups a byte sequence into fixed-size segments; the last (possibly short or empty) is flagged.</summary>
    internal static async IAsyncEnumerable<Segment> SegmentAsync(IAsyncEnumerable<Chunk> input, int segmentSize, ChunkPool pool, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var current = pool.Rent(segmentSize);
        var filled = 0;
        long index = 0;
        await foreach (var chunk in input.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            var offset = 0;
            while (offset < chunk.Length)
            {
                // A full segment is only emitted once more data follows it, so the last one is always known.
                if (filled == segmentSize)
                {
                    var full = new Segment(current.WithLength(filled), index++, IsLast: false);
                    current = pool.Rent(segmentSize);
                    filled = 0;
                    yield return full;
                }

                var count = Math.Min(chunk.Length - offset, segmentSize - filled);
                Buffer.BlockCopy(chunk.Buffer, offset, current.Buffer, filled, count);
                filled += count;
                offset += count;
            }

            chunk.Return();
        }

        yield return new Segment(current.WithLength(filled), index, IsLast: true);
    }

    /// <summary>Encrypts segments in parallel, in order.</summary>
    internal static IAsyncEnumerable<Chunk> EncryptAsync(IAsyncEnumerable<Chunk> input, IEncryptionSession session, int parallelism, ChunkPool pool, CancellationToken cancellationToken) =>
        OrderedParallel.SelectAsync(
            SegmentAsync(input, session.PlaintextSegmentSize, pool, cancellationToken),
            segment =>
            {
                try
                {
                    var length = segment.Plain.Length + session.SegmentOverhead;
                    var output = pool.Rent(length);
                    session.EncryptSegment(segment.Index, segment.IsLast, segment.Plain.Span, output.Buffer.AsSpan(0, length));
                    return output.WithLength(length);
                }
                finally
                {
                    segment.Plain.Return();
                }
            },
            parallelism,
            PipelineStage.Encrypt,
            static chunk => chunk.Return(),
            cancellationToken);

    private static async IAsyncEnumerable<Chunk> CompressSequentiallyAsync(IAsyncEnumerable<Chunk> blocks, ICompressor compressor, ChunkPool pool, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var collector = new ChunkCollectorStream(pool, CompressionOptions.DefaultBlockSize);
        var compressing = compressor.CreateCompressionStream(collector);
        try
        {
            await foreach (var block in blocks.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    compressing.Write(block.Span);
                }
                catch (Exception ex)
                {
                    throw StageFailure.Tag(PipelineStage.Compress, ex);
                }
                finally
                {
                    block.Return();
                }

                while (collector.TryTake(out var chunk))
                {
                    yield return chunk;
                }
            }

            compressing.Dispose();
            collector.Flush();
            while (collector.TryTake(out var chunk))
            {
                yield return chunk;
            }
        }
        finally
        {
            compressing.Dispose();
        }
    }

    private static void Hash(IncrementalHash hash, in ReadOnlySequence<byte> buffer)
    {
        foreach (var memory in buffer)
        {
            hash.AppendData(memory.Span);
        }
    }

    /// <summary>A plaintext segment of the encrypted stream.</summary>
    internal readonly record struct Segment(Chunk Plain, long Index, bool IsLast);
}
