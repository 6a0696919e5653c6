using System.Collections.Concurrent;

namespace HealthMate.Backup.Pipeline;

/// <summary>
/// The buffers of one run. Sizes are rounded up to 64 KiB classes (not powers of two, so a 1 MiB segment plus its
/// 16-byte tag does not take 2 MiB), and buffers are reused only within the run, which bounds how many exist: the
/// pipeline's bounded stages decide the peak, and everything is released to the GC when the run ends.
/// </summary>
internal sealed class ChunkPool
{
    private const int Granularity = 64 * 1024;
    private readonly ConcurrentDictionary<int, ConcurrentBag<byte[]>> _free = new();

    internal Chunk Rent(int minimumLength)
    {
        var size = SizeClass(minimumLength);
        var buffer = _free.TryGetValue(size, out var bag) && bag.TryTake(out var reused) ? reused : GC.AllocateUninitializedArray<byte>(size);
        return new Chunk(buffer, 0, this);
    }

    internal void Return(byte[] buffer) => _free.GetOrAdd(buffer.Length, static _ => []).Add(buffer);

    private static int SizeClass(int length) => length <= Granularity ? Granularity : checked((length + Granularity - 1) / Granularity * Granularity);
}
