namespace HealthMate.Backup.Pipeline;

/// <summary>A run of bytes in a buffer lent by a <see cref="ChunkPool"/>; whoever holds it last returns it.</summary>
internal readonly record struct Chunk(byte[] Buffer, int Length, ChunkPool Pool)
{
    internal ReadOnlySpan<byte> Span => Buffer.AsSpan(0, Length);

    internal ReadOnlyMemory<byte> Memory => Buffer.AsMemory(0, Length);

    internal bool IsEmpty => Buffer is null;

    internal Chunk WithLength(int length) => this with { Length = length };

    internal void Return() => Pool.Return(Buffer);
}
