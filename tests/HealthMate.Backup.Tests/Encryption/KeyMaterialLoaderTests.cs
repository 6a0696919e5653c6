using System.Security.Cryptography;
using HealthMate.Backup.Encryption;

namespace HealthMate.Backup.Tests.Encryption;

/// <summary>Keys come from configuration, an environment variable, a file or a passphrase; errors never show material.</summary>
public sealed class KeyMaterialLoaderTests
{
    private static readonly byte[] Material = RandomNumberGenerator.GetBytes(32);

    [Fact]
    public void Base64_EnvironmentVariable_AndFile_GiveTheSameKey()
    {
        var variable = "HMB_TEST_KEY_" + Guid.NewGuid().ToString("N");
        var rawFile = Path.GetTempFileName();
        var textFile = Path.GetTempFileName();
        try
        {
            Environment.SetEnvironmentVariable(variable, Convert.ToBase64String(Material));
            File.WriteAllBytes(rawFile, Material);
            File.WriteAllText(textFile, Convert.ToBase64String(Material) + "\n");

            Assert.Equal(Material, KeyMaterialLoader.Load(new BackupKeyOptions { Id = "a", Base64 = Convert.ToBase64String(Material) }));
            Assert.Equal(Material, KeyMaterialLoader.Load(new BackupKeyOptions { Id = "a", EnvironmentVariable = variable }));
            Assert.Equal(Material, KeyMaterialLoader.Load(new BackupKeyOptions { Id = "a", File = rawFile }));
            Assert.Equal(Material, KeyMaterialLoader.Load(new BackupKeyOptions { Id = "a", File = textFile }));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
            File.Delete(rawFile);
            File.Delete(textFile);
        }
    }

    [Fact]
    public void Passphrase_IsStretchedDeterministically_PerKeyId()
    {
        var options = new BackupKeyOptions { Id = "p1", Passphrase = "correct horse battery staple", PassphraseIterations = 100_000 };

        var first = KeyMaterialLoader.Load(options);
        var again = KeyMaterialLoader.Load(options);
        var otherId = KeyMaterialLoader.Load(new BackupKeyOptions { Id = "p2", Passphrase = options.Passphrase, PassphraseIterations = 100_000 });

        Assert.Equal(32, first.Length);
        Assert.Equal(first, again);
        Assert.NotEqual(first, otherId);
    }

    [Theory]
    [InlineData("short")]
    [InlineData("")]
    public void WeakPassphrase_IsRefused(string passphrase) =>
        Assert.Throws<InvalidOperationException>(() => KeyMaterialLoader.Load(new BackupKeyOptions { Id = "p", Passphrase = passphrase }));

    [Fact]
    public void Errors_NameTheSourceButNeverTheMaterial()
    {
        var wrongLength = Convert.ToBase64String(RandomNumberGenerator.GetBytes(31));
        var errors = new[]
        {
            Record.Exception(() => KeyMaterialLoader.Load(new BackupKeyOptions { Id = "a", Base64 = wrongLength })),
            Record.Exception(() => KeyMaterialLoader.Load(new BackupKeyOptions { Id = "a", Base64 = "not base64 at all!" })),
            Record.Exception(() => KeyMaterialLoader.Load(new BackupKeyOptions { Id = "a", EnvironmentVariable = "HMB_DEFINITELY_UNSET" })),
            Record.Exception(() => KeyMaterialLoader.Load(new BackupKeyOptions { Id = "a", File = "/nonexistent/key" })),
            Record.Exception(() => KeyMaterialLoader.Load(new BackupKeyOptions { Id = "a", Base64 = wrongLength, Passphrase = "x" })),
            Record.Exception(() => KeyMaterialLoader.Load(new BackupKeyOptions { Id = "a" })),
        };

        Assert.All(errors, e => Assert.IsType<InvalidOperationException>(e));
        Assert.All(errors, e => Assert.Contains("'a'", e!.Message, StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain(wrongLength, e!.Message, StringComparison.Ordinal));
        Assert.Contains("HMB_DEFINITELY_UNSET", errors[2]!.Message, StringComparison.Ordinal);
        Assert.Contains("31 bytes", errors[0]!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyOptions_ToString_NeverShowsMaterial()
    {
        var options = new BackupKeyOptions { Id = "a", Base64 = Convert.ToBase64String(Material) };
        var passphrase = new BackupKeyOptions { Id = "b", Passphrase = "correct horse battery staple" };

        Assert.DoesNotContain(options.Base64!, options.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("horse", passphrase.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void KeyRing_ErasesItsCopiesWhenDisposed()
    {
        var material = (byte[])Material.Clone();
        var ring = new BackupKeyRing("a", [new("a", material)]);
        var held = ring.GetKey("a").ToArray();

        ring.Dispose();

        Assert.Equal(Material, held);
        Assert.Equal(Material, material);
        Assert.Throws<ObjectDisposedException>(() => ring.GetKey("a").ToArray());
    }
}
