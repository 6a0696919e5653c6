namespace HealthMate.Backup.Storage;

/// <summary>Validates object keys: slash-separated segments, none empty, <c>.</c> or <c>..</c>, no backslash, control character or leading slash.</summary>
public static class StorageKey
{
    /// <summary>The prefix of the temporary names writes use before they commit; no key segment may start with it.</summary>
    internal const string TemporaryPrefix = ".hmb-tmp-";

    /// <summary>The longest key accepted.</summary>
    public const int MaxLength = 1024;

    /// <summary>Returns why a key is invalid, or <see langword="null"/> if it is valid.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The problem, or <see langword="null"/>.</returns>
    public static string? GetError(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "a key must not be empty";
        }

        if (key.Length > MaxLength)
        {
            return $"a key must not be longer than {MaxLength} characters";
        }

        if (key[0] == '/')
        {
            return "a key must not start with '/'";
        }

        foreach (var c in key)
        {
            if (c == '\\' || char.IsControl(c))
            {
                return "a key must not contain '\\' or control characters";
            }
        }

        foreach (var segment in key.Split('/'))
        {
            if (segment.Length == 0)
            {
                return "a key must not have empty segments ('//' or a trailing '/')";
            }

            if (segment is "." or "..")
            {
                return "a key must not have '.' or '..' segments";
            }

            if (segment.StartsWith(TemporaryPrefix, StringComparison.Ordinal))
            {
                return $"a key segment must not start with '{TemporaryPrefix}'";
            }
        }

        return null;
    }

    /// <summary>Throws if a key is invalid.</summary>
    /// <param name="key">The key.</param>
    /// <param name="paramName">The parameter name for the exception.</param>
    /// <exception cref="ArgumentException">The key is invalid.</exception>
    public static void Validate(string? key, string paramName = "key")
    {
        if (GetError(key) is { } error)
        {
            throw new ArgumentException($"Invalid storage key '{key}': {error}.", paramName);
        }
    }
}
