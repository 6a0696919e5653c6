using System.Security.Cryptography;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.Encryption;

/// <summary>The AES-256-GCM primitive under the streaming AEAD, in the library's profile (12-byte nonce, 16-byte tag), against NIST CAVP.</summary>
public sealed class NistAesGcmVectorTests
{
    [Fact]
    public void Encrypt_MatchesEveryNistVector()
    {
        var count = 0;
        foreach (var v in RspFile.Records(RspFile.VectorPath("nist-cavp-aes-gcm", "gcmEncryptExtIV256.rsp")))
        {
            using var aes = new AesGcm(Convert.FromHexString(v["Key"]), 16);
            var plaintext = Convert.FromHexString(v["PT"]);
            var ciphertext = new byte[plaintext.Length];
            var tag = new byte[16];
            aes.Encrypt(Convert.FromHexString(v["IV"]), plaintext, ciphertext, tag, Convert.FromHexString(v["AAD"]));
            Assert.Equal(v["CT"], Convert.ToHexStringLower(ciphertext));
            Assert.Equal(v["Tag"], Convert.ToHexStringLower(tag));
            count++;
        }

        Assert.Equal(375, count);
    }

    [Fact]
    public void Decrypt_AcceptsValidAndRejectsEveryFailVector()
    {
        int accepted = 0, rejected = 0;
        foreach (var v in RspFile.Records(RspFile.VectorPath("nist-cavp-aes-gcm", "gcmDecrypt256.rsp")))
        {
            using var aes = new AesGcm(Convert.FromHexString(v["Key"]), 16);
            var ciphertext = Convert.FromHexString(v["CT"]);
            var plaintext = new byte[ciphertext.Length];
            var decrypt = () => aes.Decrypt(Convert.FromHexString(v["IV"]), ciphertext, Convert.FromHexString(v["Tag"]), plaintext, Convert.FromHexString(v["AAD"]));
            if (v.ContainsKey("FAIL"))
            {
                Assert.Throws<AuthenticationTagMismatchException>(decrypt);
                Assert.All(plaintext, b => Assert.Equal(0, b));
                rejected++;
            }
            else
            {
                decrypt();
                Assert.Equal(v["PT"], Convert.ToHexStringLower(plaintext));
                accepted++;
            }
        }

        Assert.Equal(184, accepted);
        Assert.Equal(191, rejected);
    }
}
