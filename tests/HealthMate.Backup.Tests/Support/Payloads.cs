namespace HealthMate.Backup.Tests.Support;

/// <summary>Deterministic test payloads: random, compressible text-like, or a mix.</summary>
internal static class Payloads
{
    internal static byte[] Create(int length, int seed, int style)
    {
        var random = new Random(seed);
        var bytes = new byte[length];
        switch (style % 3)
        {
            case 0:
                random.NextBytes(bytes);
                break;
            case 1:
                var words = new[] { "patient ", "record ", "dose ", "0.5mg ", "{\"id\":", "embedding ", "\n" };
                var position = 0;
                while (position < length)
                {
                    var word = System.Text.Encoding.ASCII.GetBytes(words[random.Next(words.Length)]);
                    var count = Math.Min(word.Length, length - position);
                    Array.Copy(word, 0, bytes, position, count);
                    position += count;
                }

                break;
            default:
                random.NextBytes(bytes);
                for (var i = 0; i < length; i += 2)
                {
                    bytes[i] = (byte)(i % 7);
                }

                break;
        }

        return bytes;
    }
}
