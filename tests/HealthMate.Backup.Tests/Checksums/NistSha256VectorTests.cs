using System.Security.Cryptography;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.Checksums;

/// <summary>SHA-256 as the pipeline computes it (incrementally, over arbitrary chunks) against NIST CAVP SHAVS.</summary>
public sealed class NistSha256VectorTests
{
    public static TheoryData<string> MessageFiles => new() { "SHA256ShortMsg.rsp", "SHA256LongMsg.rsp" };

    [Theory]
    [MemberData(nameof(MessageFiles))]
    public async Task Pipeline_PlaintextSha256_MatchesNist(string file)
    {
        using var host = new TestHost();
        var count = 0;
        foreach (var v in RspFile.Records(RspFile.VectorPath("nist-cavp-sha256", file)))
        {
            var bits = int.Parse(v["Len"], System.Globalization.CultureInfo.InvariantCulture);
            var message = bits == 0 ? [] : Convert.FromHexString(v["Msg"]);
            var backup = await host.BackupBytesAsync(message, writeChunk: 1 + (count % 37));
            Assert.Equal(v["MD"], backup.Manifest.Data.PlaintextSha256);
            count++;
        }

        Assert.Equal(file.Contains("Short", StringComparison.Ordinal) ? 65 : 64, count);
    }

    [Fact]
    public void IncrementalSha256_PassesTheMonteCarloTest()
    {
        var records = RspFile.Records(RspFile.VectorPath("nist-cavp-sha256", "SHA256Monte.rsp")).ToList();
        var seed = Convert.FromHexString(records[0]["Seed"]);
        var checkpoints = records.Skip(1).Select(r => r["MD"]).ToList();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (var j = 0; j < 100; j++)
        {
            byte[] a = seed, b = seed, c = seed;
            for (var i = 3; i < 1003; i++)
            {
                hash.AppendData(a);
                hash.AppendData(b);
                hash.AppendData(c);
                (a, b, c) = (b, c, hash.GetHashAndReset());
            }

            seed = c;
            Assert.Equal(checkpoints[j], Convert.ToHexStringLower(seed));
        }
    }
}
