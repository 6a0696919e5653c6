using FsCheck.Xunit;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.Compression;

/// <summary>The reference C library and the managed port write frames the other reads, byte for byte the same content;
/// on this platform the fast native path is the one in use.</summary>
public sealed class ZstdImplementationsTests
{
    [Fact]
    public void NativeLibrary_LoadsHere_AndIsTheDefault()
    {
        Assert.True(ZstdCompressor.NativeAvailable, "libzstd (bundled by ZstdNet) should load on linux-x64 and linux-arm64");
        Assert.True(new ZstdCompressor(1).UsesNative);
        Assert.False(new ZstdCompressor(1, native: false).UsesNative);
    }

    [Property(MaxTest = 60)]
    public bool FramesFromEitherImplementation_DecodeWithTheOther(ushort size, byte seed, byte levelChoice, bool checksums)
    {
        var level = new[] { 1, 3, 9, -5 }[levelChoice % 4];
        var payload = Payloads.Create(size * 4, seed, style: seed % 3);
        var native = new ZstdCompressor(level, checksums, native: true);
        var managed = new ZstdCompressor(level, checksums, native: false);
        return RoundTrip(native, managed, payload) && RoundTrip(managed, native, payload);
    }

    [Fact]
    public void DamagedFrame_IsAFormatError_InBothImplementations()
    {
        var payload = Payloads.Create(200_000, 7, 1);
        foreach (var native in new[] { true, false })
        {
            var compressor = new ZstdCompressor(1, frameChecksums: true, native: native);
            var frame = new byte[compressor.GetMaxCompressedLength(payload.Length)];
            var length = compressor.CompressBlock(payload, frame);
            frame[length / 2] ^= 0x55;
            Assert.Throws<BackupFormatException>(() => compressor.DecompressFrame(frame.AsSpan(0, length), new byte[payload.Length]));
        }
    }

    private static bool RoundTrip(ZstdCompressor writer, ZstdCompressor reader, byte[] payload)
    {
        var frame = new byte[writer.GetMaxCompressedLength(payload.Length)];
        var length = writer.CompressBlock(payload, frame);
        var back = new byte[payload.Length];
        var decoded = reader.DecompressFrame(frame.AsSpan(0, length), back);
        return decoded == payload.Length && back.AsSpan().SequenceEqual(payload);
    }
}
