using System.Buffers;
using FsCheck;
using FsCheck.Xunit;
using HealthMate.Backup.Encryption;

namespace HealthMate.Backup.Tests.Encryption;

/// <summary>Hostile or random bytes where a header should be give a clear format error, never a crash or an acceptance.</summary>
public sealed class EncryptedObjectHeaderFuzzTests
{
    [Property(MaxTest = 500)]
    public bool RandomBytes_AreRejectedCleanly(byte[] data, bool withMagic)
    {
        using var ring = new BackupKeyRing("k", [new("k", new byte[32])]);
        var encryptor = new AesGcmStreamingEncryptor(ring, 4096);
        var input = withMagic ? [.. "HMBE"u8.ToArray(), 1, 1, .. data] : data;
        try
        {
            return !encryptor.TryBeginDecryption(new ReadOnlySequence<byte>(input), [], out _, out _) && input.Length < encryptor.MaxHeaderLength;
        }
        catch (BackupFormatException)
        {
            return true;
        }
    }
}
