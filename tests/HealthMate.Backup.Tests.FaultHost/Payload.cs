namespace HealthMate.Backup.Tests.FaultHost;

/// <summary>The deterministic content of "payload SEED SIZE": the tests recompute it to check a restore byte for byte.</summary>
public static class Payload
{
    /// <summary>Creates the payload.</summary>
    /// <param name="seed">The seed.</param>
    /// <param name="size">The size in bytes.</param>
    /// <returns>The bytes.</returns>
    public static byte[] Create(int seed, int size)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
