using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HealthMate.Backup.Pipeline;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace HealthMate.Backup.Tests.Pipeline;

/// <summary>The frame splitter finds frame boundaries without decoding; it must agree with the zstd encoder exactly.</summary>
public sealed class ZstdFrameReaderTests
{
    [Property(MaxTest = 200)]
    public bool FindsExactlyTheFrameBoundaries(NonNegativeInt length, int seed, bool checksum, bool compressible, PositiveInt frames)
    {
        var random = new Random(seed);
        var stream = new List<byte>();
        var boundaries = new List<(int End, long Content)>();
        for (var f = 0; f < 1 + (frames.Get % 4); f++)
        {
            var input = new byte[length.Get % 300_000];
            random.NextBytes(input);
            if (compressible)
            {
                Array.Fill(input, (byte)'a', 0, input.Length / 2);
            }

            using var compressor = new Compressor(1 + (seed & 3));
            compressor.SetParameter(ZSTD_cParameter.ZSTD_c_checksumFlag, checksum ? 1 : 0);
            stream.AddRange(compressor.Wrap(input).ToArray());
            boundaries.Add((stream.Count, input.Length));
        }

        var bytes = stream.ToArray();
        var start = 0;
        foreach (var (end, content) in boundaries)
        {
            // Every strict prefix of a frame asks for more bytes; the whole frame is found exactly.
            for (var cut = start; cut < end; cut += Math.Max(1, (end - start) / 7))
            {
                if (ZstdFrameReader.TryReadFrame(bytes.AsSpan(start, cut - start), out _, out _))
                {
                    return false;
                }
            }

            if (!ZstdFrameReader.TryReadFrame(bytes.AsSpan(start), out var frameLength, out var contentSize) || start + frameLength != end || contentSize != content)
            {
                return false;
            }

            start = end;
        }

        return true;
    }

    [Property(MaxTest = 300)]
    public bool ArbitraryBytes_NeverCrash(byte[] data)
    {
        try
        {
            ZstdFrameReader.TryReadFrame(data, out var length, out _);
            return length >= 0;
        }
        catch (BackupFormatException)
        {
            return true;
        }
    }

    [Fact]
    public void SkippableFrames_AreMeasuredAndCarryNoContent()
    {
        byte[] skippable = [0x50, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3];

        Assert.True(ZstdFrameReader.TryReadFrame(skippable, out var length, out var content));
        Assert.Equal(11, length);
        Assert.Equal(0, content);
    }
}
