using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace HealthMate.Backup.Encryption;

/// <summary><see cref="AesGcm"/> instances are not thread-safe; this pool lends one per worker.</summary>
internal sealed class ConcurrentAesGcmPool : IDisposable
{
    private readonly byte[] _key;
    private readonly ConcurrentBag<AesGcm> _pool = [];

    internal ConcurrentAesGcmPool(byte[] key) => _key = key;

    internal AesGcm Rent() => _pool.TryTake(out var aes) ? aes : new AesGcm(_key, StreamingAeadConstants.TagLength);

    internal void Return(AesGcm aes) => _pool.Add(aes);

    public void Dispose()
    {
        while (_pool.TryTake(out var aes))
        {
            aes.Dispose();
        }
    }
}
