using System.Security.Cryptography;
using System.Text;

namespace HealthMate.Backup.Encryption;

/// <summary>Loads key material from the configured sources. Error messages name the key id and the source, never material.</summary>
internal static class KeyMaterialLoader
{
    internal const int MinPassphraseIterations = 100_000;

    internal static string DescribeSource(BackupKeyOptions key) => CountSources(key) switch
    {
        0 => "no source",
        > 1 => "several sources",
        _ when key.Base64 is not null => "configuration",
        _ when key.EnvironmentVariable is not null => $"environment variable '{key.EnvironmentVariable}'",
        _ when key.File is not null => $"file '{key.File}'",
        _ => "passphrase",
    };

    internal static int CountSources(BackupKeyOptions key) =>
        (key.Base64 is null ? 0 : 1) + (key.EnvironmentVariable is null ? 0 : 1) + (key.File is null ? 0 : 1) + (key.Passphrase is null ? 0 : 1);

    /// <summary>Loads every key and builds the ring. The caller disposes it.</summary>
    internal static BackupKeyRing LoadKeyRing(EncryptionOptions options)
    {
        var loaded = new List<KeyValuePair<string, byte[]>>();
        try
        {
            foreach (var key in options.Keys)
            {
                loaded.Add(new(key.Id, Load(key)));
            }

            return new BackupKeyRing(options.ActiveKeyId, loaded);
        }
        finally
        {
            foreach (var (_, material) in loaded)
            {
                CryptographicOperations.ZeroMemory(material);
            }
        }
    }

    /// <summary>Returns the 32-byte key material, or throws <see cref="InvalidOperationException"/> naming the source.</summary>
    internal static byte[] Load(BackupKeyOptions key)
    {
        if (CountSources(key) != 1)
        {
            throw new InvalidOperationException($"Key '{key.Id}' must have exactly one of Base64, EnvironmentVariable, File or Passphrase; it has {CountSources(key)}.");
        }

        if (key.Base64 is { } base64)
        {
            return DecodeBase64(key.Id, base64, "its Base64 setting");
        }

        if (key.EnvironmentVariable is { } variable)
        {
            var value = Environment.GetEnvironmentVariable(variable);
            return string.IsNullOrWhiteSpace(value)
                ? throw new InvalidOperationException($"Key '{key.Id}': environment variable '{variable}' is not set.")
                : DecodeBase64(key.Id, value, $"environment variable '{variable}'");
        }

        if (key.File is { } path)
        {
            return LoadFile(key.Id, path);
        }

        return FromPassphrase(key);
    }

    private static byte[] LoadFile(string keyId, string path)
    {
        byte[] content;
        try
        {
            content = System.IO.File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Key '{keyId}': key file '{path}' cannot be read ({ex.GetType().Name}).", ex);
        }

        try
        {
            if (content.Length == BackupKeyRing.KeyLength)
            {
                return (byte[])content.Clone();
            }

            return DecodeBase64(keyId, Encoding.ASCII.GetString(content), $"key file '{path}'");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
        }
    }

    private static byte[] FromPassphrase(BackupKeyOptions key)
    {
        if (key.Passphrase!.Length < 12)
        {
            throw new InvalidOperationException($"Key '{key.Id}': the passphrase is shorter than 12 characters.");
        }

        if (key.PassphraseIterations < MinPassphraseIterations)
        {
            throw new InvalidOperationException($"Key '{key.Id}': PassphraseIterations is {key.PassphraseIterations}; use at least {MinPassphraseIterations}.");
        }

        byte[] salt;
        if (key.PassphraseSalt is { } configuredSalt)
        {
            try
            {
                salt = Convert.FromBase64String(configuredSalt);
            }
            catch (FormatException ex)
            {
                throw new InvalidOperationException($"Key '{key.Id}': PassphraseSalt is not valid base64.", ex);
            }

            if (salt.Length < 16)
            {
                throw new InvalidOperationException($"Key '{key.Id}': PassphraseSalt must be at least 16 bytes.");
            }
        }
        else
        {
            salt = SHA256.HashData(Encoding.UTF8.GetBytes("HealthMate.Backup v1 passphrase salt " + key.Id));
        }

        var password = Encoding.UTF8.GetBytes(key.Passphrase);
        try
        {
            return Rfc2898DeriveBytes.Pbkdf2(password, salt, key.PassphraseIterations, HashAlgorithmName.SHA256, BackupKeyRing.KeyLength);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(password);
        }
    }

    private static byte[] DecodeBase64(string keyId, string text, string source)
    {
        var buffer = new byte[(text.Length * 3 / 4) + 3];
        try
        {
            if (!Convert.TryFromBase64String(text.Trim(), buffer, out var written))
            {
                throw new InvalidOperationException($"Key '{keyId}': {source} is not valid base64.");
            }

            if (written != BackupKeyRing.KeyLength)
            {
                throw new InvalidOperationException($"Key '{keyId}': {source} holds {written} bytes; a key is exactly {BackupKeyRing.KeyLength} bytes (base64 of 32 random bytes, e.g. `openssl rand -base64 32`).");
            }

            return buffer[..BackupKeyRing.KeyLength];
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
        }
    }
}
