using System.Buffers.Binary;

namespace HealthMate.Backup.Pipeline;

/// <summary>
/// Finds where the next zstd frame ends without decoding it (RFC 8878 §3.1: frame header, then 3-byte block
/// headers), so frames written on all cores can be decoded on all cores.
/// </summary>
internal static class ZstdFrameReader
{
    private const uint FrameMagic = 0xFD2FB528;
    private const uint SkippableMagicMask = 0xFFFFFFF0;
    private const uint SkippableMagic = 0x184D2A50;

    /// <summary>Returns false if <paramref name="data"/> does not yet hold a whole frame.</summary>
    /// <param name="data">Bytes starting at a frame boundary.</param>
    /// <param name="frameLength">The frame's length in bytes.</param>
    /// <param name="contentSize">The decompressed size, or -1 if the frame does not record it; 0 for a skippable frame.</param>
    internal static bool TryReadFrame(ReadOnlySpan<byte> data, out int frameLength, out long contentSize)
    {
        frameLength = 0;
        contentSize = -1;
        if (data.Length < 4)
        {
            return false;
        }

        var magic = BinaryPrimitives.ReadUInt32LittleEndian(data);
        if ((magic & SkippableMagicMask) == SkippableMagic)
        {
            if (data.Length < 8)
            {
                return false;
            }

            var size = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
            if (size > int.MaxValue - 8)
            {
                throw new BackupFormatException("A zstd skippable frame is too large.");
            }

            frameLength = 8 + (int)size;
            contentSize = 0;
            return data.Length >= frameLength;
        }

        if (magic != FrameMagic)
        {
            throw new BackupFormatException("The compressed data is not a zstd frame where one should start.");
        }

        if (data.Length < 5)
        {
            return false;
        }

        var descriptor = data[4];
        var fcsFlag = descriptor >> 6;
        var singleSegment = (descriptor & 0x20) != 0;
        var hasChecksum = (descriptor & 0x04) != 0;
        if ((descriptor & 0x08) != 0)
        {
            throw new BackupFormatException("A zstd frame header has its reserved bit set.");
        }

        var dictionaryIdLength = (descriptor & 0x03) switch { 0 => 0, 1 => 1, 2 => 2, _ => 4 };
        var fcsLength = fcsFlag switch { 0 => singleSegment ? 1 : 0, 1 => 2, 2 => 4, _ => 8 };
        var position = 5 + (singleSegment ? 0 : 1) + dictionaryIdLength;
        if (data.Length < position + fcsLength)
        {
            return false;
        }

        var fcs = data.Slice(position, fcsLength);
        contentSize = fcsLength switch
        {
            0 => -1,
            1 => fcs[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(fcs) + 256,
            4 => BinaryPrimitives.ReadUInt32LittleEndian(fcs),
            _ => (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(fcs), long.MaxValue),
        };
        position += fcsLength;

        while (true)
        {
            if (data.Length < position + 3)
            {
                return false;
            }

            var header = data[position] | (data[position + 1] << 8) | (data[position + 2] << 16);
            var isLast = (header & 1) != 0;
            var type = (header >> 1) & 3;
            var size = header >> 3;
            position += 3 + type switch
            {
                0 or 2 => size,
                1 => 1,
                _ => throw new BackupFormatException("A zstd block has the reserved block type."),
            };
            if (isLast)
            {
                break;
            }
        }

        position += hasChecksum ? 4 : 0;
        frameLength = position;
        return data.Length >= position;
    }
}
