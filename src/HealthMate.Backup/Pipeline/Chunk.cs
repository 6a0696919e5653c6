using System.Buffers;

namespace HealthMate.Backup.Pipeline;

/// <summary>A run of bytes in a buffer rented from <see cref="ArrayPool{T}.Shared"/>; whoever holds it last returns it.</summary>
internal readonly record struct Chunk(byte[] Buffer, int Length)
{
    internal ReadOnlySpan<byte> Span => Buffer.AsSpan(0, Length);

    internal ReadOnlyMemory<byte> Memory => Buffer.AsMemory(0, Length);

    internal static Chunk Rent(int capacity) => new(ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 1)), 0);

    internal Chunk WithLength(int length) => this with { Length = length };

    internal void Return() => ArrayPool<byte>.Shared.Return(Buffer);
}
